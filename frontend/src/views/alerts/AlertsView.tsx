/**
 * Alerts page (docs/alerts.md): the project's open alerts and their history, filtered by status and kind;
 * admins acknowledge (with a note) and silence (for a period, with a reason), and tune the rules. Follows the
 * `alerts.changed` push.
 */

import { useCallback, useState } from "preact/hooks";
import {
  type AlertKind, type AlertQuery, type AlertRow, type AlertRuleRow, acknowledgeAlert, listAlerts, readAlertRules,
  silenceAlert, updateAlertRules,
} from "../../api/endpoints";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { useSession } from "../../session";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { FieldError } from "../../ui/FieldError";
import { messagesByField } from "../../ui/fieldErrors";
import { useAsync } from "../../ui/useAsync";
import {
  NOTE_LIMIT, SILENCE_CHOICES, type SilenceField, alertState, announceAlertsChanged, checkSilence, describeFigures,
  parseParams,
} from "./alerts";

type Status = NonNullable<AlertQuery["status"]>;
const PAGE_SIZE = 50;

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function SilenceForm({ project, alert, onDone }: { project: number; alert: AlertRow; onDone: () => void }) {
  const [minutes, setMinutes] = useState(60);
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<Partial<Record<SilenceField, string>>>({});
  const [error, setError] = useState<unknown>(null);
  const id = `alert-${alert.id}-silence`;
  const submit = async (e: Event) => {
    e.preventDefault();
    const refused = checkSilence(minutes, reason);
    setErrors(refused);
    setError(null);
    if (Object.keys(refused).length > 0) return;
    try {
      await silenceAlert(project, alert.id, { minutes, reason });
      announceAlertsChanged();
      onDone();
    } catch (err) {
      const fields = messagesByField(err, ["minutes", "reason"] as const);
      if (fields) setErrors(fields);
      else setError(err);
    }
  };
  return (
    <form class="stack" onSubmit={(e) => void submit(e)} data-testid={id} aria-label={`Silence ${alert.subject_label}`}>
      <label>For
        <select value={minutes} data-testid={`${id}-minutes`} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
          {SILENCE_CHOICES.map((c) => <option key={c.minutes} value={c.minutes}>{c.label}</option>)}
        </select></label>
      <FieldError id={`${id}-minutes-error`} message={errors.minutes} />
      <label>Reason
        <input type="text" value={reason} maxLength={NOTE_LIMIT} required data-testid={`${id}-reason`}
               aria-invalid={errors.reason ? "true" : undefined}
               onInput={(e) => setReason(e.currentTarget.value)} /></label>
      <FieldError id={`${id}-reason-error`} message={errors.reason} />
      <button type="submit" data-testid={`${id}-save`}>Silence</button>
      <ErrorBanner error={error} testId={`${id}-error`} />
    </form>
  );
}

function AcknowledgeForm({ project, alert, onDone }: { project: number; alert: AlertRow; onDone: () => void }) {
  const [note, setNote] = useState("");
  const [error, setError] = useState<unknown>(null);
  const id = `alert-${alert.id}-ack`;
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await acknowledgeAlert(project, alert.id, note);
      announceAlertsChanged();
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="row" onSubmit={(e) => void submit(e)} data-testid={id} aria-label={`Acknowledge ${alert.subject_label}`}>
      <label>Note <input type="text" value={note} maxLength={NOTE_LIMIT} data-testid={`${id}-note`}
                         onInput={(e) => setNote(e.currentTarget.value)} /></label>
      <button type="submit" data-testid={`${id}-save`}>Acknowledge</button>
      <ErrorBanner error={error} testId={`${id}-error`} />
    </form>
  );
}

function AlertRowView({ project, alert, admin, onChanged }:
  { project: number; alert: AlertRow; admin: boolean; onChanged: () => void }) {
  const state = alertState(alert);
  return (
    <tr data-testid={`alert-${alert.id}`}>
      <td><span class={`alert-tag severity-${alert.severity}`}>{alert.severity}</span></td>
      <th scope="row">{alert.kind_label}<br /><small>{alert.subject_type} · {alert.subject_label}</small></th>
      <td>{describeFigures(alert.kind, alert.resolved_at ? alert.details : alert.last_value)}</td>
      <td>{when(alert.opened_at)}{alert.resolved_at && <><br /><small>resolved {when(alert.resolved_at)}</small></>}</td>
      <td data-testid={`alert-${alert.id}-state`}>
        <span class={`alert-tag state-${state}`}>{state}</span>
        {alert.acknowledged_at && <small><br />by {alert.acknowledged_by ?? "?"}{alert.acknowledge_note
          ? `: ${alert.acknowledge_note}` : ""}</small>}
        {alert.silenced && <small data-testid={`alert-${alert.id}-silence-info`}><br />until {when(alert.silenced_until)} by {
          alert.silenced_by ?? "?"}: {alert.silence_reason}</small>}
      </td>
      {admin && (
        <td>
          {!alert.resolved_at && (
            <>
              {!alert.acknowledged_at && <AcknowledgeForm project={project} alert={alert} onDone={onChanged} />}
              {!alert.silenced && (
                <details data-testid={`alert-${alert.id}-silence-open`}>
                  <summary>Silence…</summary>
                  <SilenceForm project={project} alert={alert} onDone={onChanged} />
                </details>
              )}
            </>
          )}
        </td>
      )}
    </tr>
  );
}

function RuleRow({ rule, admin, draft, error, onChange }: {
  rule: AlertRuleRow; admin: boolean; draft: { enabled: boolean; inputs: Record<string, string> };
  error: Record<string, string>; onChange: (next: { enabled: boolean; inputs: Record<string, string> }) => void;
}) {
  return (
    <tr data-testid={`rule-${rule.kind}`}>
      <th scope="row">{rule.label}<br /><small>{rule.subject_type} · {rule.severity}</small></th>
      <td><input type="checkbox" checked={draft.enabled} disabled={!admin} aria-label={`${rule.label} enabled`}
                 data-testid={`rule-${rule.kind}-enabled`}
                 onChange={(e) => onChange({ ...draft, enabled: e.currentTarget.checked })} /></td>
      <td>
        {rule.param_specs.length === 0 && <small>no threshold</small>}
        {rule.param_specs.map((spec) => (
          <label key={spec.name} title={spec.help}>{spec.name.replace(/_/g, " ")}
            <input type="number" inputMode="decimal" step={spec.integer ? 1 : "any"} min={spec.min} max={spec.max}
                   value={draft.inputs[spec.name] ?? ""} disabled={!admin} data-testid={`rule-${rule.kind}-${spec.name}`}
                   aria-invalid={error[spec.name] ? "true" : undefined}
                   onInput={(e) => onChange({ ...draft, inputs: { ...draft.inputs, [spec.name]: e.currentTarget.value } })} />
            <FieldError id={`rule-${rule.kind}-${spec.name}-error`} message={error[spec.name]} />
          </label>
        ))}
      </td>
    </tr>
  );
}

function draftOf(rule: AlertRuleRow) {
  return { enabled: rule.enabled ?? true,
    inputs: Object.fromEntries(Object.entries(rule.params).map(([k, v]) => [k, String(v)])) };
}

function RulesSection({ project, admin }: { project: number; admin: boolean }) {
  const loaded = useAsync(() => readAlertRules(project), [project]);
  const [drafts, setDrafts] = useState<Record<string, ReturnType<typeof draftOf>>>({});
  const [errors, setErrors] = useState<Record<string, Record<string, string>>>({});
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const rules = loaded.data ?? [];
  const draft = (rule: AlertRuleRow) => drafts[rule.kind] ?? draftOf(rule);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    setError(null);
    const refused: Record<string, Record<string, string>> = {};
    const changes = rules.map((rule) => {
      const d = draft(rule);
      const parsed = parseParams(rule.param_specs, d.inputs);
      if (Object.keys(parsed.errors).length > 0) refused[rule.kind] = parsed.errors;
      return { kind: rule.kind, enabled: d.enabled, params: parsed.params };
    });
    setErrors(refused);
    if (Object.keys(refused).length > 0) return;
    try {
      await updateAlertRules(project, changes);
      setDrafts({});
      setSaved(true);
      loaded.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="card stack" onSubmit={(e) => void save(e)} data-testid="alert-rules" aria-label="Alert rules">
      <h2>Rules</h2>
      <p class="hint">Checked every minute. A rule switched off resolves its open alerts at the next check.</p>
      <ErrorBanner error={loaded.error} />
      <div class="table-scroll">
        <table>
          <thead><tr><th scope="col">Rule</th><th scope="col">On</th><th scope="col">Thresholds</th></tr></thead>
          <tbody>
            {rules.map((rule) => (
              <RuleRow key={rule.kind} rule={rule} admin={admin} draft={draft(rule)} error={errors[rule.kind] ?? {}}
                       onChange={(next) => setDrafts((all) => ({ ...all, [rule.kind]: next }))} />
            ))}
          </tbody>
        </table>
      </div>
      {admin && <div class="row">
        <button type="submit" class="primary" data-testid="alert-rules-save">Save rules</button>
        {saved && <span role="status">Saved.</span>}
      </div>}
      <ErrorBanner error={error} testId="alert-rules-error" />
    </form>
  );
}

export function AlertsView({ project }: { project: number }) {
  const { me } = useSession();
  const role = me.memberships.find((m) => m.project === project)?.role;
  const admin = role === "admin";
  const [status, setStatus] = useState<Status>("open");
  const [kind, setKind] = useState<AlertKind | "">("");
  const [page, setPage] = useState(1);
  const alerts = useAsync(() => listAlerts(project, { status, page, page_size: PAGE_SIZE, ...(kind ? { kind } : {}) }),
    [project, status, kind, page]);
  const rules = useAsync(() => readAlertRules(project), [project]);
  const reload = alerts.reload;
  const onChanged = useCallback(() => reload(), [reload]);
  useProjectMessage("alerts.changed", onChanged);
  const data = alerts.data;
  const pages = data ? Math.max(1, Math.ceil(data.count / PAGE_SIZE)) : 1;
  return (
    <section class="stack">
      <h1>Alerts</h1>
      <div class="row" role="group" aria-label="Filters">
        <label>Show
          <select value={status} data-testid="alerts-status"
                  onChange={(e) => { setStatus(e.currentTarget.value as Status); setPage(1); }}>
            <option value="open">Open</option><option value="resolved">History (resolved)</option>
            <option value="all">All</option>
          </select></label>
        <label>Kind
          <select value={kind} data-testid="alerts-kind"
                  onChange={(e) => { setKind(e.currentTarget.value as AlertKind | ""); setPage(1); }}>
            <option value="">Every kind</option>
            {(rules.data ?? []).map((r) => <option key={r.kind} value={r.kind}>{r.label}</option>)}
          </select></label>
      </div>
      <ErrorBanner error={alerts.error} />
      {data && data.results.length === 0 && <p data-testid="alerts-empty">
        {status === "open" ? "No open alerts." : "No alerts here."}</p>}
      {data && data.results.length > 0 && (
        <div class="table-scroll">
          <table data-testid="alerts-table">
            <caption class="sr-only">Alerts, newest first</caption>
            <thead><tr><th scope="col">Severity</th><th scope="col">Alert</th><th scope="col">Figures</th>
              <th scope="col">Opened</th><th scope="col">State</th>{admin && <th scope="col">Actions</th>}</tr></thead>
            <tbody>
              {data.results.map((a) => <AlertRowView key={a.id} project={project} alert={a} admin={admin}
                                                      onChanged={onChanged} />)}
            </tbody>
          </table>
        </div>
      )}
      {data && pages > 1 && (
        <div class="row">
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>Newer</button>
          <span>Page {page} of {pages} · {data.count} alerts</span>
          <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)}>Older</button>
        </div>
      )}
      {(admin || role === "reviewer") && <RulesSection project={project} admin={admin} />}
    </section>
  );
}
