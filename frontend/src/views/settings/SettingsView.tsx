/**
 * Project settings (admins): how review works in this project — the share of submitted work that goes to QA,
 * the score from which the model's boxes are the annotator's starting answer, and how many annotators each new
 * item needs. Save sends only what changed; a refusal shows beside its field and what was typed stays. Below
 * it, retention (./RetentionSettings.tsx).
 */

import { useState } from "preact/hooks";
import { type ReviewSettings, type ReviewSettingsChange, readReviewSettings, updateReviewSettings } from "../../api/endpoints";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { type FieldErrors, describedBy } from "../../ui/fieldErrors";
import { useAsync } from "../../ui/useAsync";
import { RetentionSettings } from "./RetentionSettings";
import { useSettingsForm } from "./useSettingsForm";

type Field = keyof ReviewSettings;
const FIELDS: readonly Field[] = ["qa_sample_rate", "prelabel_threshold", "consensus_overlap"];

interface FieldSpec {
  label: string;
  hint: string;
  /** The typed text as the stored value, or null when it is not one. */
  parse: (text: string) => number | null;
  /** What to say when the text is not a value (the server says it too, beside the field). */
  meaning: string;
  show: (value: number) => string;
}

const fraction = (text: string): number | null => {
  const value = Number(text.trim().replace(",", "."));
  return text.trim() !== "" && Number.isFinite(value) && value >= 0 && value <= 1 ? value : null;
};

export const SPECS: Record<Field, FieldSpec> = {
  qa_sample_rate: {
    label: "QA sample rate (0–1)",
    hint: "The share of submitted items a QA reviewer checks before they are accepted: 0.1 sends one in ten. "
      + "Items with low agreement always go to QA.",
    parse: fraction, meaning: "Enter a number from 0 to 1, for example 0.1 to review one item in ten.",
    show: String,
  },
  prelabel_threshold: {
    label: "Pre-label threshold (0–1)",
    hint: "Model boxes scoring at least this are the annotator's starting answer and are kept unless deleted; "
      + "boxes below it are dashed suggestions that count only when accepted.",
    parse: fraction, meaning: "Enter a model score from 0 to 1, for example 0.5.",
    show: String,
  },
  consensus_overlap: {
    label: "Annotators per item",
    hint: "How many people annotate each new item (1: no consensus). Items already queued keep theirs.",
    parse: (text) => (/^\s*\d+\s*$/.test(text) && Number(text) >= 1 && Number(text) <= 10 ? Number(text) : null),
    meaning: "Enter a whole number from 1 to 10.",
    show: String,
  },
};

const id = (part: string) => `settings-${part}`;
type Draft = Record<Field, string>;
const draftOf = (s: ReviewSettings): Draft => ({
  qa_sample_rate: SPECS.qa_sample_rate.show(s.qa_sample_rate),
  prelabel_threshold: SPECS.prelabel_threshold.show(s.prelabel_threshold),
  consensus_overlap: SPECS.consensus_overlap.show(s.consensus_overlap),
});

/** The fields that differ from what is stored, and a sentence for each that is not a value. */
export function changesFrom(stored: ReviewSettings, draft: Draft):
  { changes: ReviewSettingsChange; errors: FieldErrors<Field> } {
  const changes: ReviewSettingsChange = {};
  const errors: FieldErrors<Field> = {};
  for (const field of FIELDS) {
    const value = SPECS[field].parse(draft[field]);
    if (value === null) errors[field] = SPECS[field].meaning;
    else if (value !== stored[field]) changes[field] = value;
  }
  return { changes, errors };
}

function SettingsForm({ project, stored, onSaved }: { project: number; stored: ReviewSettings;
                                                      onSaved: (s: ReviewSettings) => void }) {
  const { form, draft, setField, errors, notice, busy, submit } = useSettingsForm({
    stored, fields: FIELDS, draftOf, changesFrom,
    save: (changes: ReviewSettingsChange) => updateReviewSettings(project, changes),
    nothingToSave: "Nothing to save: no setting was changed.", onSaved,
  });

  return (
    <form ref={form} class="card stack settings-form" noValidate onSubmit={(e) => void submit(e)}
          data-testid={id("form")} aria-label="Review settings">
      <h2>Review</h2>
      {FIELDS.map((field) => {
        const spec = SPECS[field];
        const error = errors[field];
        return (
          <div class="stack tight" key={field}>
            <label for={id(field)}>{spec.label}</label>
            <input id={id(field)} type="text" inputMode={field === "consensus_overlap" ? "numeric" : "decimal"}
                   class="number" autoComplete="off" spellcheck={false} value={draft[field]} data-field={field}
                   data-testid={id(field)} aria-invalid={error ? true : undefined}
                   aria-describedby={describedBy(id(`${field}-hint`), id(`${field}-error`), !!error)}
                   onInput={(e) => setField(field, e.currentTarget.value)} />
            <p class="hint" id={id(`${field}-hint`)}>{spec.hint}</p>
            <FieldError id={id(`${field}-error`)} message={error} />
          </div>
        );
      })}
      <FormRefusals errors={errors} fields={FIELDS} testId={id("refused")} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy} data-testid={id("save")}>Save settings</button>
        <span role="status" data-testid={id("saved")}>{notice}</span>
      </div>
    </form>
  );
}

export function SettingsView({ project }: { project: number }) {
  const loaded = useAsync(() => readReviewSettings(project), [project]);
  const [stored, setStored] = useState<ReviewSettings | null>(null);
  const current = stored ?? loaded.data;
  return (
    <section class="stack">
      <h1>Project settings</h1>
      <ErrorBanner error={loaded.error} />
      {current && <SettingsForm project={project} stored={current} onSaved={setStored} />}
      <RetentionSettings project={project} />
    </section>
  );
}
