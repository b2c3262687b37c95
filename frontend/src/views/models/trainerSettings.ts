/**
 * The retraining settings form's plain logic: the form's text as typed (so nothing is lost to a refusal), the
 * changes to send (only the fields that differ from the stored config), and every refusal, the form's own or the
 * server's, as a sentence beside the field it concerns.
 */

import type { TrainerBackend, TrainerChanges, TrainerConfig } from "../../api/endpoints";
import { ApiError, describeError } from "../../api/errors";
import { type FieldErrors, messagesByField, outboundUrlMessage } from "../../ui/fieldErrors";

export type Field = "threshold" | "per_site_threshold" | "backend" | "command" | "webhook_url" | "webhook_secret"
  | "epochs" | "auto_promote" | "promote_margin" | "slice_tolerance";

/** The fields in the form's order (the first with an error takes the keyboard). */
export const FIELDS: readonly Field[] = ["threshold", "per_site_threshold", "backend", "command", "webhook_url",
  "webhook_secret", "epochs", "auto_promote", "promote_margin", "slice_tolerance"];

export type TrainerErrors = FieldErrors<Field>;

export const MIN_SECRET_LENGTH = 32; // activelearning/training/api.py TrainerConfigSerializer
const MAX_THRESHOLD = 10_000_000;
const MAX_EPOCHS = 1000;

export const BACKENDS: readonly { value: TrainerBackend; label: string; hint: string }[] = [
  { value: "reference", label: "Reference trainer",
    hint: "fine-tunes the champion's weights on this server" },
  { value: "command", label: "Command",
    hint: "a trainer command the server's operator allows, given the dataset and an output folder" },
  { value: "webhook", label: "Webhook",
    hint: "your training pipeline: Loupe sends it a signed request and it answers with one signed callback" },
];

// Compile-time check: a new backend in the schema's enum fails `tsc` until it is listed above.
type Missing = Exclude<TrainerBackend, (typeof BACKENDS)[number]["value"]>;
const everyBackendListed: [Missing] extends [never] ? true : Missing = true;
void everyBackendListed;

/** What the server's refusal of a field means, in words a person can act on. */
const MEANING: Partial<Record<Field, string>> = {
  threshold: `Enter a whole number from 1 to ${MAX_THRESHOLD.toLocaleString("en")}: how many accepted corrections `
    + "start the next retrain.",
  per_site_threshold: "Enter a whole number: how many accepted corrections at one site start a retrain, or 0 to "
    + "turn this off.",
  backend: "Choose one of the trainer backends.",
  command: "This server does not allow that command (any more). Choose one from the list; reload the page if the "
    + "list looks out of date.",
  webhook_url: "Enter the full https:// address of your training pipeline, for example "
    + "https://ml.example.com/loupe/train.",
  webhook_secret: `The secret must be at least ${MIN_SECRET_LENGTH} characters. Press “Generate” for a strong one.`,
  epochs: `Enter a whole number of epochs from 1 to ${MAX_EPOCHS}.`,
  promote_margin: "Enter a number from 0 to 1, in mAP@0.5: 0.02 means the candidate must win by 2 points.",
  slice_tolerance: "Enter a number from 0 to 1, in mAP@0.5: 0.05 lets a slice lose up to 5 points.",
};

/** The form as typed: numbers stay text until saved, so a mistyped value is shown back, not dropped. */
export interface Draft {
  threshold: string;
  per_site_threshold: string;
  backend: TrainerBackend;
  command: string;
  webhook_url: string;
  /** Empty: the stored secret (if any) stays. */
  webhook_secret: string;
  epochs: string;
  auto_promote: boolean;
  promote_margin: string;
  slice_tolerance: string;
}

const text = (n: number | undefined) => (n === undefined ? "" : String(n));

export function draftOf(config: TrainerConfig): Draft {
  return {
    threshold: text(config.threshold), per_site_threshold: text(config.per_site_threshold),
    backend: config.backend ?? "reference", command: config.command ?? "", webhook_url: config.webhook_url ?? "",
    webhook_secret: "", epochs: text(config.epochs), auto_promote: config.auto_promote ?? false,
    promote_margin: text(config.promote_margin), slice_tolerance: text(config.slice_tolerance),
  };
}

/** A whole number as people type it ("1 000" and "1,000" too), within [min, max]; null if it is not one. */
function wholeNumber(typed: string, min: number, max: number): number | null {
  const digits = typed.trim().replace(/[\s,_']/g, "");
  if (!/^\d+$/.test(digits)) return null;
  const n = Number(digits);
  return n >= min && n <= max ? n : null;
}

/** A fraction in [0, 1], with a decimal point or comma. */
function fraction(typed: string): number | null {
  const t = typed.trim().replace(",", ".");
  if (!/^(\d+\.?\d*|\.\d+)$/.test(t)) return null;
  const n = Number(t);
  return n >= 0 && n <= 1 ? n : null;
}

export interface Changes {
  changes: TrainerChanges;
  /** The form's own refusals; nothing is sent while there are any. */
  errors: TrainerErrors;
}

/** The fields to send: those that differ from the stored config, checked first as the server would. */
export function changesFrom(config: TrainerConfig, draft: Draft): Changes {
  const changes: TrainerChanges = {};
  const errors: TrainerErrors = {};
  const number = (field: "threshold" | "per_site_threshold" | "epochs" | "promote_margin" | "slice_tolerance",
                  parsed: number | null) => {
    if (parsed === null) errors[field] = MEANING[field];
    else if (parsed !== config[field]) changes[field] = parsed;
  };
  number("threshold", wholeNumber(draft.threshold, 1, MAX_THRESHOLD));
  number("per_site_threshold", wholeNumber(draft.per_site_threshold, 0, MAX_THRESHOLD));
  number("epochs", wholeNumber(draft.epochs, 1, MAX_EPOCHS));
  // Disabled while auto-promote is off: not checked then, and left as stored.
  if (draft.auto_promote) {
    number("promote_margin", fraction(draft.promote_margin));
    number("slice_tolerance", fraction(draft.slice_tolerance));
  }
  if (draft.auto_promote !== (config.auto_promote ?? false)) changes.auto_promote = draft.auto_promote;
  if (draft.backend !== config.backend) changes.backend = draft.backend;
  // A backend's own fields are sent only while it is chosen (what is on screen is what is saved); typed values of
  // another backend stay in the form, unsent, in case the admin switches back.
  if (draft.backend === "command" && draft.command !== (config.command ?? "")) changes.command = draft.command;
  const url = draft.webhook_url.trim();
  if (draft.backend === "webhook") {
    if (url !== (config.webhook_url ?? "")) changes.webhook_url = url;
    if (draft.webhook_secret.length >= MIN_SECRET_LENGTH) changes.webhook_secret = draft.webhook_secret;
    else if (draft.webhook_secret) errors.webhook_secret = MEANING.webhook_secret;
  }

  // A backend chosen now must be able to run: the trainer would otherwise fail at the next threshold.
  if (changes.backend === "command" && !draft.command) {
    errors.command = config.allowed_commands.length === 0
      ? "This server allows no trainer commands, so this backend cannot run. Choose another backend, or ask the "
        + "operator to list a command in LOUPE_TRAINER_COMMANDS."
      : "Choose the command to run.";
  }
  if (changes.backend === "webhook") {
    if (!url) errors.webhook_url = "Enter the address of your training pipeline.";
    if (!draft.webhook_secret && !config.webhook_secret_set && !errors.webhook_secret) {
      errors.webhook_secret = `Set a secret of at least ${MIN_SECRET_LENGTH} characters: Loupe signs its requests `
        + "with it and checks the pipeline's answer. Press “Generate” for a strong one.";
    }
  }
  return { changes, errors };
}

/** Where to show an error from saving the settings, in words a person understands. */
export function trainerFieldErrors(error: unknown): TrainerErrors {
  if (!(error instanceof ApiError)) return { form: describeError(error) };
  if (error.status === 403) return { form: "Only the project's admins can change its retraining settings." };
  const url = outboundUrlMessage(error, "https://ml.example.com/loupe/train");
  if (url) return { webhook_url: url };
  const found: TrainerErrors = messagesByField(error, FIELDS) ?? {};
  for (const field of FIELDS) if (found[field]) found[field] = MEANING[field] ?? found[field];
  const general = messagesByField(error, ["non_field_errors"]);
  if (general) found.form = general.non_field_errors;
  return Object.keys(found).length > 0 ? found : { form: describeError(error) };
}
