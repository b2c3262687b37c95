/**
 * Routing page (admins): the routing policy in force and its past versions; a JSON editor pre-filled with the
 * document; "Preview on recent events" replays the project's newest device events through the policy in force and
 * the edited one, side by side (queued, by reason, by site, priority histogram, the events whose decision changes);
 * "Save as new version" stores it. Validation errors are listed with their JSON path beside the editor, and the
 * text typed is never replaced by a refusal.
 */

import { useRef, useState } from "preact/hooks";
import {
  type PolicyOutcome, type PolicyPreview, type RoutingPolicy, previewRoutingPolicy, readProject, readRoutingPolicy,
  saveRoutingPolicy,
} from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { FormRefusals } from "../../ui/FieldError";
import { describedBy } from "../../ui/fieldErrors";
import { useAsync } from "../../ui/useAsync";

export interface PolicyError { path: string; message: string }

/** The editor's text as a document, or the JSON syntax error as a policy error at the root. */
export function parseDocument(text: string): { document: unknown } | { errors: PolicyError[] } {
  try {
    return { document: JSON.parse(text) as unknown };
  } catch (err) {
    return { errors: [{ path: "/", message: `Not valid JSON: ${err instanceof Error ? err.message : String(err)}` }] };
  }
}

/** The per-path errors of a 422 `invalid_policy`; null for any other error. */
export function policyErrors(error: unknown): PolicyError[] | null {
  if (!(error instanceof ApiError) || error.code !== "invalid_policy") return null;
  const list = error.details.errors;
  if (!Array.isArray(list)) return null;
  return list.map((e: { path?: unknown; message?: unknown }) => ({ path: String(e.path ?? "/"),
                                                                    message: String(e.message ?? "") }));
}

/** Sorted union of the keys of two count maps, for a side-by-side table. */
export function unionKeys(a: Record<string, number>, b: Record<string, number>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const when = (iso: unknown) => (typeof iso === "string" ? new Date(iso).toLocaleString() : "—");

function CountsTable({ title, keyLabel, testId, current, proposed }:
  { title: string; keyLabel: string; testId: string; current: Record<string, number>; proposed: Record<string, number> }) {
  const keys = unionKeys(current, proposed);
  return (
    <table data-testid={testId}>
      <caption>{title}</caption>
      <thead><tr><th scope="col">{keyLabel}</th><th scope="col">Current</th><th scope="col">Proposed</th></tr></thead>
      <tbody>
        {keys.length === 0 && <tr><td colSpan={3}>None queued.</td></tr>}
        {keys.map((k) => (
          <tr key={k}><th scope="row">{k}</th><td>{current[k] ?? 0}</td><td>{proposed[k] ?? 0}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

function PriorityHistogram({ current, proposed }: { current: PolicyOutcome; proposed: PolicyOutcome }) {
  const bins = current.priority_histogram.length;
  const most = Math.max(1, ...current.priority_histogram, ...proposed.priority_histogram);
  const bar = (n: number, cls: string) => (
    <><span class={`drift-bar ${cls}`} style={{ width: `${((n / most) * 5).toFixed(2)}rem` }} aria-hidden="true" />{n}</>
  );
  return (
    <table class="drift-histogram" data-testid="routing-histogram">
      <caption>Events per priority bin (all replayed events)</caption>
      <thead><tr><th scope="col">Priority</th><th scope="col">Current</th><th scope="col">Proposed</th></tr></thead>
      <tbody>
        {current.priority_histogram.map((n, i) => (
          <tr key={i}>
            <th scope="row">{(i / bins).toFixed(1)}–{((i + 1) / bins).toFixed(1)}</th>
            <td>{bar(n, "drift-bar-reference")}</td>
            <td>{bar(proposed.priority_histogram[i] ?? 0, "drift-bar-current")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PreviewResult({ preview }: { preview: PolicyPreview }) {
  const { current, proposed } = preview;
  const rows: [string, string, (o: PolicyOutcome) => string][] = [
    ["events", "Events replayed", (o) => String(o.events)],
    ["queued", "Queued (before caps)", (o) => String(o.queued)],
    ["subject", "Subject to caps", (o) => String(o.subject_to_caps)],
    ["exempt", "Exempt from caps", (o) => pct(o.exempt_from_caps_share)],
  ];
  return (
    <section class="card stack" data-testid="routing-preview" aria-label="Preview">
      <h2>Preview on the {current.events} most recent events</h2>
      <p class="hint">Caps are not simulated (they depend on live counts of queued items): queued events that are not
        exempt would be subject to the caps of each policy.</p>
      <table data-testid="routing-totals">
        <caption class="sr-only">Totals, current against proposed</caption>
        <thead><tr><th scope="col" /><th scope="col">Current{preview.current_version === null ? " (default)"
          : ` (v${preview.current_version})`}</th><th scope="col">Proposed</th></tr></thead>
        <tbody>
          {rows.map(([key, label, value]) => (
            <tr key={key}><th scope="row">{label}</th>
              <td data-testid={`routing-current-${key}`}>{value(current)}</td>
              <td data-testid={`routing-proposed-${key}`}>{value(proposed)}</td></tr>
          ))}
        </tbody>
      </table>
      <div class="row">
        <CountsTable title="Queued by reason" keyLabel="Reason" testId="routing-by-reason" current={current.queued_by_reason}
                     proposed={proposed.queued_by_reason} />
        <CountsTable title="Queued by site" keyLabel="Site" testId="routing-by-site" current={current.queued_by_site}
                     proposed={proposed.queued_by_site} />
      </div>
      <PriorityHistogram current={current} proposed={proposed} />
      <p data-testid="routing-changed">{preview.changed === 0 ? "No event changes between queued and not."
        : `${preview.changed} events change: ${preview.newly_queued} newly queued, ${preview.no_longer_queued} no longer queued.`}</p>
      {preview.examples.length > 0 && (
        <div class="table-scroll">
          <table data-testid="routing-examples">
            <caption>Changed events (up to 20, newest first)</caption>
            <thead><tr><th scope="col">Prediction</th><th scope="col">Camera</th><th scope="col">Before</th>
              <th scope="col">After</th></tr></thead>
            <tbody>
              {preview.examples.map((e) => (
                <tr key={e.prediction}>
                  <td>#{e.prediction}</td><td>{e.site} / {e.camera}</td>
                  <td>{e.queued_before ? `queued (${e.reason_before})` : "not queued"} · {e.priority_before.toFixed(3)}</td>
                  <td>{e.queued_after ? `queued (${e.reason_after})` : "not queued"} · {e.priority_after.toFixed(3)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function PolicyEditor({ project, policy, onSaved }: { project: number; policy: RoutingPolicy; onSaved: () => void }) {
  const [text, setText] = useState(() => JSON.stringify(policy.document, null, 2));
  const [errors, setErrors] = useState<PolicyError[]>([]);
  const [refusal, setRefusal] = useState<string | undefined>(undefined);
  const [preview, setPreview] = useState<PolicyPreview | null>(null);
  const [saved, setSaved] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const editor = useRef<HTMLTextAreaElement>(null);

  const run = async (action: (document: unknown) => Promise<void>) => {
    setRefusal(undefined);
    setSaved(null);
    const parsed = parseDocument(text);
    if ("errors" in parsed) {
      setErrors(parsed.errors);
      editor.current?.focus();
      return;
    }
    setBusy(true);
    try {
      await action(parsed.document);
      setErrors([]);
    } catch (err) {
      const listed = policyErrors(err);
      if (listed) {
        setErrors(listed);
        editor.current?.focus();
      } else {
        setErrors([]);
        setRefusal(err instanceof ApiError ? err.message : String(err));
      }
    } finally {
      setBusy(false);
    }
  };
  const runPreview = () => run(async (document) => setPreview(await previewRoutingPolicy(project, document)));
  const save = () => run(async (document) => {
    const stored = await saveRoutingPolicy(project, document);
    setSaved(stored.version);
    onSaved();
  });
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void runPreview();
    }
  };

  return (
    <div class="routing-layout">
      <form class="card stack" aria-label="Edit the routing policy" data-testid="routing-editor-form"
            onSubmit={(e) => { e.preventDefault(); void save(); }}>
        <h2>Edit</h2>
        <div class="routing-editor">
          <label for="routing-document">Policy document (JSON)</label>
          <p class="hint" id="routing-document-hint">Preview with Ctrl+Enter. Tab leaves the editor. Weights,
            min_priority, audit_sample_rate, rules, caps: see README "Routing policy".</p>
          <textarea id="routing-document" class="mono" rows={20} spellcheck={false} value={text}
                    data-testid="routing-document" data-field="document"
                    aria-invalid={errors.length > 0}
                    aria-describedby={describedBy("routing-document-hint", "routing-errors", errors.length > 0)}
                    onInput={(e) => setText(e.currentTarget.value)} onKeyDown={onKeyDown} />
          {errors.length > 0 && (
            <div class="field-error" id="routing-errors" role="alert" data-testid="routing-errors">
              <p>The policy is not valid (nothing was saved):</p>
              <ul>
                {errors.map((e, i) => <li key={i}><code>{e.path}</code>: {e.message}</li>)}
              </ul>
            </div>
          )}
        </div>
        <FormRefusals errors={{ form: refusal }} fields={[]} testId="routing-refusal" />
        <div class="row">
          <button type="button" onClick={() => void runPreview()} disabled={busy} data-testid="routing-preview-run">
            Preview on recent events</button>
          <button type="submit" class="primary" disabled={busy} data-testid="routing-save">Save as new version</button>
          {saved !== null && <span role="status" data-testid="routing-saved">Saved as version {saved}.</span>}
        </div>
      </form>
      {preview && <PreviewResult preview={preview} />}
    </div>
  );
}

export function RoutingView({ project }: { project: number }) {
  const policy = useAsync(() => readRoutingPolicy(project), [project]);
  const detail = useAsync(() => readProject(project), [project]);
  const admin = detail.data?.role === "admin";
  const data = policy.data;
  return (
    <section class="stack">
      <h1>Routing</h1>
      <p class="hint">The routing policy decides which device events a person reviews: a priority from uncertainty,
        the device's reason and frame quality, rules on classes, confidence band and detection count, an audit
        sample, and rate caps.</p>
      <ErrorBanner error={policy.error ?? detail.error} />
      {data && (
        <>
          <p data-testid="routing-version">{data.version === null ? "In force: the built-in default (no version saved yet)."
            : `In force: version ${data.version}.`}</p>
          {data.history.length > 0 && (
            <details data-testid="routing-history">
              <summary>Past versions ({data.history.length})</summary>
              <ul>
                {data.history.map((h) => (
                  <li key={String(h.version)}>Version {String(h.version)} · {when(h.created_at)} ·{" "}
                    {typeof h.created_by__username === "string" ? h.created_by__username : "system"}</li>
                ))}
              </ul>
            </details>
          )}
          {admin ? <PolicyEditor project={project} policy={data} onSaved={policy.reload} />
            : detail.data && <pre class="mono" data-testid="routing-readonly">{JSON.stringify(data.document, null, 2)}</pre>}
        </>
      )}
    </section>
  );
}
