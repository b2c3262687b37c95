/**
 * The admin's retraining settings on the models page: when to retrain (the threshold, per site too), which
 * trainer runs (reference, an allowed command, or a webhook to a pipeline) and whether a candidate may promote
 * itself. Save sends only the changed fields; a refusal shows beside its field and nothing typed is lost.
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { type TrainerConfig, readTrainerConfig, updateTrainerConfig } from "../../api/endpoints";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { describedBy, focusFirstError } from "../../ui/fieldErrors";
import { SecretInput } from "../../ui/SecretInput";
import { useAsync } from "../../ui/useAsync";
import {
  BACKENDS, type Draft, FIELDS, type Field, MIN_SECRET_LENGTH, type TrainerErrors, changesFrom, draftOf,
  trainerFieldErrors,
} from "./trainerSettings";

const id = (part: string) => `trainer-${part}`;

interface NumberProps {
  field: Field;
  label: string;
  value: string;
  onInput: (value: string) => void;
  error: string | undefined;
  hint: string;
  decimal?: boolean;
  disabled?: boolean;
}

/** A number typed as text (a mistyped value stays visible to be fixed), with its hint and error. */
function NumberField({ field, label, value, onInput, error, hint, decimal = false, disabled = false }: NumberProps) {
  return (
    <div class="stack tight">
      <label for={id(field)}>{label}</label>
      <input id={id(field)} type="text" inputMode={decimal ? "decimal" : "numeric"} value={value} data-field={field}
             disabled={disabled} autoComplete="off" spellcheck={false} class="number"
             aria-invalid={error ? true : undefined}
             aria-describedby={describedBy(id(`${field}-hint`), id(`${field}-error`), !!error)}
             data-testid={id(field)} onInput={(e) => onInput(e.currentTarget.value)} />
      <p class="hint" id={id(`${field}-hint`)}>{hint}</p>
      <FieldError id={id(`${field}-error`)} message={error} />
    </div>
  );
}

function SettingsForm({ project, config, onSaved }: { project: number; config: TrainerConfig;
                                                       onSaved: (config: TrainerConfig) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(config));
  const [errors, setErrors] = useState<TrainerErrors>({});
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const form = useRef<HTMLFormElement>(null);
  const set = <K extends keyof Draft>(key: K) => (value: Draft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    setNotice("");
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setNotice("");
    const { changes, errors: refused } = changesFrom(config, draft);
    if (Object.keys(refused).length > 0) {
      setErrors(refused);
      focusFirstError(form.current, FIELDS, refused);
      return;
    }
    setErrors({});
    if (Object.keys(changes).length === 0) {
      setNotice("Nothing to save: no setting was changed.");
      return;
    }
    setBusy(true);
    try {
      const saved = await updateTrainerConfig(project, changes);
      onSaved(saved);
      setDraft(draftOf(saved));
      setNotice(`Saved ${Object.keys(changes).length === 1 ? "the change" : `${Object.keys(changes).length} changes`}.`
                + (changes.threshold !== undefined ? ` Retraining now starts at ${saved.threshold} accepted corrections.` : ""));
    } catch (err) {
      // The form keeps everything typed; the keyboard goes to the first field to fix.
      const found = trainerFieldErrors(err);
      setErrors(found);
      focusFirstError(form.current, FIELDS, found);
    } finally {
      setBusy(false);
    }
  };

  const noCommands = config.allowed_commands.length === 0;
  const commandListed = !draft.command || config.allowed_commands.includes(draft.command);
  return (
    <form ref={form} class="stack trainer-form" noValidate onSubmit={(e) => void submit(e)} data-testid={id("form")}
          aria-label="Retraining settings">
      <fieldset class="stack">
        <legend>When to retrain</legend>
        <div class="row align-start">
          <NumberField field="threshold" label="Retraining threshold (accepted corrections)" value={draft.threshold}
                       onInput={set("threshold")} error={errors.threshold}
                       hint={"When this many corrections have been accepted since the last dataset version, Loupe "
                             + "freezes the next dataset version and trains a new candidate on it."} />
          <NumberField field="per_site_threshold" label="Per-site threshold (0 = off)" value={draft.per_site_threshold}
                       onInput={set("per_site_threshold")} error={errors.per_site_threshold}
                       hint={"Also retrain when one site alone reaches this many accepted corrections, so a new "
                             + "store is learned without waiting for the others."} />
        </div>
      </fieldset>

      <fieldset class="stack">
        <legend>Trainer</legend>
        <fieldset class="stack tight plain" aria-invalid={errors.backend ? true : undefined}
                  aria-describedby={describedBy(undefined, id("backend-error"), !!errors.backend)}>
          <legend>Backend</legend>
          {BACKENDS.map((b, i) => (
            <label class="check" key={b.value}>
              <input type="radio" name="trainer-backend" value={b.value} checked={draft.backend === b.value}
                     data-field={i === 0 ? "backend" : undefined} data-testid={id(`backend-${b.value}`)}
                     onChange={() => set("backend")(b.value)} />
              <span>{b.label} <small>({b.hint})</small></span>
            </label>
          ))}
          <FieldError id={id("backend-error")} message={errors.backend} />
        </fieldset>

        {draft.backend === "command" && (
          <div class="stack tight">
            <label for={id("command")}>Command</label>
            <select id={id("command")} value={draft.command} data-field="command" data-testid={id("command")}
                    aria-invalid={errors.command ? true : undefined}
                    aria-describedby={describedBy(id("command-hint"), id("command-error"), !!errors.command)}
                    onChange={(e) => set("command")(e.currentTarget.value)}>
              <option value="">{noCommands ? "(none allowed on this server)" : "Choose a command…"}</option>
              {config.allowed_commands.map((c) => <option key={c} value={c}>{c}</option>)}
              {!commandListed && <option value={draft.command}>{draft.command} (no longer allowed)</option>}
            </select>
            <p class={noCommands ? "banner banner-warn" : "hint"} id={id("command-hint")} data-testid={id("command-hint")}>
              {noCommands
                ? "This server allows no trainer commands, so the command backend cannot run here. The operator lists "
                  + "them in LOUPE_TRAINER_COMMANDS; until then, choose another backend."
                : "The operator decides what each name runs (LOUPE_TRAINER_COMMANDS); it is given the dataset and an "
                  + "output folder."}
            </p>
            <FieldError id={id("command-error")} message={errors.command} />
          </div>
        )}

        {draft.backend === "webhook" && (
          <div class="stack tight">
            <label for={id("webhook_url")}>Pipeline URL</label>
            <input id={id("webhook_url")} type="url" inputMode="url" value={draft.webhook_url} maxLength={200}
                   data-field="webhook_url" placeholder="https://ml.example.com/loupe/train" autoComplete="off"
                   spellcheck={false} aria-invalid={errors.webhook_url ? true : undefined}
                   aria-describedby={describedBy(id("webhook_url-hint"), id("webhook_url-error"), !!errors.webhook_url)}
                   data-testid={id("webhook_url")} onInput={(e) => set("webhook_url")(e.currentTarget.value)} />
            <p class="hint" id={id("webhook_url-hint")}>Only hosts the operator allowed (LOUPE_OUTBOUND_ALLOWED_HOSTS).
              Loupe POSTs the dataset's address there; the pipeline answers with one signed callback and the model.</p>
            <FieldError id={id("webhook_url-error")} message={errors.webhook_url} />
            <SecretInput id={id("webhook_secret")} field="webhook_secret" value={draft.webhook_secret}
                         onInput={set("webhook_secret")} error={errors.webhook_secret}
                         label={config.webhook_secret_set ? "New signing secret (leave empty to keep the stored one)"
                                                          : "Signing secret"}
                         hint={<>{config.webhook_secret_set && <strong data-testid={id("secret-stored")}>A secret is
                           stored. </strong>}At least {MIN_SECRET_LENGTH} characters, shared with the pipeline:
                           Loupe signs its requests with it and checks the callback. Copy it now: Loupe never shows it
                           again.</>} />
          </div>
        )}

        <NumberField field="epochs" label="Epochs" value={draft.epochs} onInput={set("epochs")} error={errors.epochs}
                     hint="Passes over the dataset per training run (1–1000)." />
      </fieldset>

      <fieldset class="stack">
        <legend>Promotion</legend>
        <label class="check">
          <input type="checkbox" checked={draft.auto_promote} data-field="auto_promote" data-testid={id("auto_promote")}
                 aria-describedby={id("auto_promote-hint")}
                 onChange={(e) => set("auto_promote")(e.currentTarget.checked)} />
          Promote a trained candidate by itself when it clearly wins
        </label>
        <p class="hint" id={id("auto_promote-hint")}>Even then it needs a clear win on every slice: it must beat the
          champion's mAP@0.5 by the margin overall, and no slice (site, camera, lighting, crowd size) may lose more
          than the tolerance. Otherwise, or with no champion to compare with, an admin decides.</p>
        <FieldError id={id("auto_promote-error")} message={errors.auto_promote} />
        <div class="row align-start">
          <NumberField field="promote_margin" label="Margin to win by (mAP@0.5, 0–1)" value={draft.promote_margin}
                       onInput={set("promote_margin")} error={errors.promote_margin} decimal
                       disabled={!draft.auto_promote} hint="0.02: at least 2 points better overall." />
          <NumberField field="slice_tolerance" label="Slice tolerance (mAP@0.5, 0–1)" value={draft.slice_tolerance}
                       onInput={set("slice_tolerance")} error={errors.slice_tolerance} decimal
                       disabled={!draft.auto_promote} hint="0.05: no slice more than 5 points worse." />
        </div>
      </fieldset>

      <FormRefusals errors={errors} fields={FIELDS} testId={id("error")} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy} data-testid={id("save")}>
          {busy ? "Saving…" : "Save settings"}</button>
        <span role="status" data-testid={id("saved")}>{notice}</span>
      </div>
    </form>
  );
}

/** The settings card; render it for admins only (the API answers 403 to anyone else). */
export function RetrainingSettings({ project }: { project: number }) {
  const loaded = useAsync(() => readTrainerConfig(project), [project]);
  const [config, setConfig] = useState<TrainerConfig | undefined>(undefined);
  useEffect(() => { setConfig(loaded.data); }, [loaded.data]);
  return (
    <section class="card stack" aria-labelledby={id("heading")} data-testid="retraining-settings">
      <h2 id={id("heading")}>Retraining settings</h2>
      <ErrorBanner error={loaded.error} testId={id("load-error")} />
      {loaded.loading && !config && <p aria-live="polite">Loading…</p>}
      {config && <SettingsForm key={project} project={project} config={config} onSaved={setConfig} />}
    </section>
  );
}
