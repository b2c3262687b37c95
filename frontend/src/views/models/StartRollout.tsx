/**
 * Start a staged rollout of a model (admins, docs/rollouts.md): a canary (named devices and/or a share of the
 * fleet) with its soak, wider shares after it, and the health gates that halt it and send the canary back to
 * the champion. A refusal shows beside the field it concerns.
 */

import { useRef, useState } from "preact/hooks";
import { type ModelRow, startRollout } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { type FieldErrors, describedBy, focusFirstError } from "../../ui/fieldErrors";
import { DEFAULT_DRAFT, PLAN_FIELDS, type PlanField, type RolloutDraft, fieldsOfRefusal, planFrom } from "./rolloutPlan";

const id = (part: string) => `start-rollout-${part}`;

type TextField = Exclude<PlanField, "gates">;
const TEXT_FIELDS: { field: TextField; label: string; hint: string; numeric?: boolean }[] = [
  { field: "canaryDevices", label: "Canary devices", hint: "Device names, separated by commas (optional)." },
  { field: "canaryPercent", label: "Canary share of the fleet (%)", hint: "Chosen per device by a stable hash.",
    numeric: true },
  { field: "canarySoak", label: "Canary soak (minutes)", hint: "Least time at the canary stage.", numeric: true },
  { field: "widerPercents", label: "Then widen to (%)", hint: "For example 25, 50, 100. The last stage makes it champion." },
  { field: "widerSoak", label: "Soak of each wider stage (minutes)", hint: "", numeric: true },
];

export function StartRollout({ model, onStarted, onCancel }: {
  model: ModelRow; onStarted: () => void; onCancel: () => void;
}) {
  const [draft, setDraft] = useState<RolloutDraft>(DEFAULT_DRAFT);
  const [errors, setErrors] = useState<FieldErrors<PlanField>>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const refuse = (found: FieldErrors<PlanField>) => {
    setErrors(found);
    queueMicrotask(() => focusFirstError(form.current, PLAN_FIELDS, found));
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const { plan, errors: found } = planFrom(draft);
    if (!plan) return refuse(found);
    setBusy(true);
    setErrors({});
    try {
      await startRollout(model.id, plan);
      onStarted();
    } catch (err) {
      const byField = err instanceof ApiError && err.code === "invalid" ? fieldsOfRefusal(err.details) : {};
      refuse(Object.keys(byField).length > 0 ? byField
        : { form: err instanceof Error ? err.message : "The rollout could not start." });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form ref={form} class="card stack settings-form" noValidate onSubmit={(e) => void submit(e)}
          data-testid={id("form")} aria-label={`Roll out ${model.display_name} in stages`}>
      <h2>Roll out {model.display_name} in stages</h2>
      <p class="hint">The canary gets the model first; each stage waits for its soak with every gate passing. A failing
        gate halts the rollout and every device goes back to the champion on its next poll.</p>
      {TEXT_FIELDS.map(({ field, label, hint, numeric }) => (
        <div class="stack tight" key={field}>
          <label for={id(field)}>{label}</label>
          <input id={id(field)} type="text" inputMode={numeric ? "decimal" : undefined} autoComplete="off"
                 spellcheck={false} value={draft[field]} data-field={field} data-testid={id(field)}
                 aria-invalid={errors[field] ? true : undefined}
                 aria-describedby={describedBy(hint ? id(`${field}-hint`) : undefined, id(`${field}-error`), !!errors[field])}
                 onInput={(e) => setDraft({ ...draft, [field]: e.currentTarget.value })} />
          {hint && <p class="hint" id={id(`${field}-hint`)}>{hint}</p>}
          <FieldError id={id(`${field}-error`)} message={errors[field]} />
        </div>
      ))}
      <fieldset class="stack tight" data-field="gates" tabIndex={-1}>
        <legend>Health gates (canary against the champion's devices)</legend>
        {draft.gates.map((g, i) => (
          <div class="row" key={g.metric}>
            <label class="row">
              <input type="checkbox" checked={g.on} data-testid={id(`gate-${g.metric}`)}
                     onChange={(e) => setDraft({ ...draft, gates: draft.gates.map((c, j) =>
                       j === i ? { ...c, on: e.currentTarget.checked } : c) })} />
              {g.label}
            </label>
            <label class="sr-only" for={id(`tolerance-${g.metric}`)}>{g.label} tolerance</label>
            <input id={id(`tolerance-${g.metric}`)} type="text" inputMode="decimal" class="number" value={g.tolerance}
                   disabled={!g.on} data-testid={id(`tolerance-${g.metric}`)} title={g.hint}
                   onInput={(e) => setDraft({ ...draft, gates: draft.gates.map((c, j) =>
                     j === i ? { ...c, tolerance: e.currentTarget.value } : c) })} />
            <small class="hint">{g.comparison === "ratio" ? "× more allowed" : "more allowed"} · {g.hint}</small>
          </div>
        ))}
        <FieldError id={id("gates-error")} message={errors.gates} />
      </fieldset>
      <FormRefusals errors={errors} fields={PLAN_FIELDS} testId={id("refused")} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy} data-testid={id("submit")}>Start rollout</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
