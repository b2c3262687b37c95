/**
 * Pins on the models page (admins write, docs/rollouts.md "Pins"): a device or a whole site held on one model
 * version whatever rollout runs, for a site with a known problem or a device under investigation. A device pin
 * comes before its site's. Add (device or site, model, note) and remove; both audited by the server.
 */

import { useRef, useState } from "preact/hooks";
import { type ModelRow, type PinRow, createPin, deletePin, listDevices, listPins, listSites } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { FieldError } from "../../ui/FieldError";
import { messagesByField } from "../../ui/fieldErrors";
import { useAsync } from "../../ui/useAsync";

const id = (part: string) => `pin-${part}`;
type Field = "target" | "model" | "note";

/** "device:12" / "site:3" from the target picker, as the API body's `device` or `site`. */
export function targetOf(value: string): { device: number } | { site: number } | null {
  const match = /^(device|site):(\d+)$/.exec(value);
  if (!match) return null;
  return match[1] === "device" ? { device: Number(match[2]) } : { site: Number(match[2]) };
}

export function PinsPanel({ project, models, admin }: { project: number; models: ModelRow[]; admin: boolean }) {
  const pins = useAsync(() => listPins(project), [project]);
  const devices = useAsync(() => (admin ? listDevices(project) : Promise.resolve([])), [project, admin]);
  const sites = useAsync(() => (admin ? listSites(project) : Promise.resolve([])), [project, admin]);
  const [target, setTarget] = useState("");
  const [model, setModel] = useState("");
  const [note, setNote] = useState("");
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const rows = pins.data ?? [];
  if (!admin && rows.length === 0) return null;

  const modelName = (m: number) => models.find((x) => x.id === m)?.display_name ?? `#${m}`;
  const targetName = (p: PinRow) => (p.device != null
    ? `device ${(devices.data ?? []).find((d) => d.id === p.device)?.name ?? `#${p.device}`}`
    : `site ${(sites.data ?? []).find((s) => s.id === p.site)?.name ?? `#${p.site}`}`);

  const submit = async (e: Event) => {
    e.preventDefault();
    const picked = targetOf(target);
    const found: Partial<Record<Field, string>> = {};
    if (!picked) found.target = "Choose a device or a site.";
    if (!model) found.model = "Choose the model version to hold it on.";
    if (Object.keys(found).length > 0) {
      setErrors(found);
      form.current?.querySelector<HTMLElement>(`[data-field="${found.target ? "target" : "model"}"]`)?.focus();
      return;
    }
    setBusy(true);
    setErrors({});
    setError(null);
    try {
      await createPin(project, { ...picked, model: Number(model), note });
      setTarget("");
      setNote("");
      pins.reload();
    } catch (err) {
      const byField = messagesByField(err, ["device", "site", "model", "note"]);
      if (byField) setErrors({ target: byField.device ?? byField.site, model: byField.model, note: byField.note });
      else setError(err instanceof ApiError && err.code === "conflict" ? new Error("That device or site is already pinned: remove its pin first.") : err);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (p: PinRow) => {
    if (!window.confirm(`Remove the pin of ${targetName(p)}? It follows rollouts and the champion again.`)) return;
    setError(null);
    try {
      await deletePin(project, p.id);
      pins.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="stack" data-testid="pins">
      <h2>Pins</h2>
      <p class="hint">A pinned device or site runs its pinned version whatever rollout runs; a device pin comes before its site's.</p>
      <ErrorBanner error={error ?? pins.error} />
      {rows.length === 0 ? <p data-testid={id("none")}>Nothing is pinned.</p> : (
        <ul class="stack tight" data-testid={id("list")}>
          {rows.map((p) => (
            <li key={p.id} class="row" data-testid={id(`row-${p.id}`)}>
              <span><strong>{targetName(p)}</strong> on {modelName(p.model)}{p.note && <> · {p.note}</>}</span>
              {admin && <button type="button" data-testid={id(`remove-${p.id}`)} onClick={() => void remove(p)}>Remove</button>}
            </li>
          ))}
        </ul>
      )}
      {admin && (
        <form ref={form} class="row" noValidate onSubmit={(e) => void submit(e)} aria-label="New pin">
          <div class="stack tight">
            <label for={id("target")}>Device or site</label>
            <select id={id("target")} data-field="target" data-testid={id("target")} value={target}
                    aria-invalid={errors.target ? true : undefined}
                    onChange={(e) => setTarget(e.currentTarget.value)}>
              <option value="">Choose…</option>
              <optgroup label="Devices">
                {(devices.data ?? []).filter((d) => !d.revoked).map((d) => <option key={d.id} value={`device:${d.id}`}>{d.name}</option>)}
              </optgroup>
              <optgroup label="Sites">
                {(sites.data ?? []).map((s) => <option key={s.id} value={`site:${s.id}`}>{s.name}</option>)}
              </optgroup>
            </select>
            <FieldError id={id("target-error")} message={errors.target} />
          </div>
          <div class="stack tight">
            <label for={id("model")}>Model version</label>
            <select id={id("model")} data-field="model" data-testid={id("model")} value={model}
                    aria-invalid={errors.model ? true : undefined} onChange={(e) => setModel(e.currentTarget.value)}>
              <option value="">Choose…</option>
              {models.filter((m) => !m.out_of_service).map((m) => <option key={m.id} value={String(m.id)}>{m.display_name} ({m.status})</option>)}
            </select>
            <FieldError id={id("model-error")} message={errors.model} />
          </div>
          <div class="stack tight">
            <label for={id("note")}>Note</label>
            <input id={id("note")} data-field="note" data-testid={id("note")} type="text" maxLength={200} value={note}
                   placeholder="Why (optional)" onInput={(e) => setNote(e.currentTarget.value)} />
            <FieldError id={id("note-error")} message={errors.note} />
          </div>
          <button type="submit" disabled={busy} data-testid={id("add")}>Pin</button>
        </form>
      )}
    </section>
  );
}
