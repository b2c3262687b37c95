/**
 * Webhooks page (admins): the project's receivers of events with their last delivery, add / edit / delete (after a
 * confirmation), "Send test" (a signed ping) and each one's delivery log.
 */

import { useCallback, useState } from "preact/hooks";
import {
  type WebhookDeliveryRow, type WebhookRow, createWebhook, deleteWebhook, listWebhooks, testWebhook, updateWebhook,
} from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { DeliveryLog } from "./DeliveryLog";
import { eventLabels, when } from "./fields";
import { WebhookForm, type WebhookValues } from "./WebhookForm";

function LastDelivery({ webhook }: { webhook: WebhookRow }) {
  const last = webhook.last_delivery;
  if (!last) return <span class="muted">none yet</span>;
  const cls = last.status === "delivered" ? "status-ok" : last.status === "failed" ? "status-bad" : "status-warn";
  return (
    <span data-testid={`webhook-last-${webhook.id}`}>
      <span class={cls}>{last.status}</span>
      {last.last_status_code !== null && <> · {last.last_status_code}</>}
      <small> · <code>{last.event}</code> · {when(last.created_at)}</small>
    </span>
  );
}

export function WebhooksView({ project }: { project: number }) {
  const hooks = useAsync(() => listWebhooks(project), [project]);
  const [editing, setEditing] = useState<number | null>(null);
  const [logOf, setLogOf] = useState<number | null>(null);
  const [logKey, setLogKey] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const reload = hooks.reload;
  const rows = hooks.data ?? [];

  const add = async (values: WebhookValues) => {
    const created = await createWebhook(project, values);
    setNotice(`Added the webhook to ${created.url}. Keep the secret safe: it is not shown again.`);
    reload();
  };

  const save = (webhook: WebhookRow) => async (values: WebhookValues) => {
    const { secret, ...rest } = values;
    await updateWebhook(webhook.id, secret ? values : rest);
    setNotice(`Saved the webhook to ${values.url}.`);
    setEditing(null);
    reload();
  };

  const remove = async (webhook: WebhookRow) => {
    if (!window.confirm(`Delete the webhook to ${webhook.url}? Its delivery log is deleted with it, and pending `
                        + "deliveries are not sent.")) return;
    setError(null);
    try {
      await deleteWebhook(webhook.id);
      if (logOf === webhook.id) setLogOf(null);
      if (editing === webhook.id) setEditing(null);
      setNotice(`Deleted the webhook to ${webhook.url}.`);
      reload();
    } catch (err) {
      setError(err);
    }
  };

  const sendTest = async (webhook: WebhookRow) => {
    setError(null);
    try {
      await testWebhook(webhook.id);
      setNotice(`Test ping queued for ${webhook.url}; its outcome shows in the delivery log.`);
      setLogOf(webhook.id);
      setLogKey((k) => k + 1);
      reload();
    } catch (err) {
      setError(err);
    }
  };

  // The log's reads carry the newest delivery: when it differs from the list's, the list follows.
  const onLogRead = useCallback((page: WebhookDeliveryRow[]) => {
    const newest = page[0];
    const row = hooks.data?.find((w) => w.id === logOf);
    if (newest && row && (row.last_delivery?.id !== newest.id || row.last_delivery.status !== newest.status)) reload();
  }, [hooks.data, logOf, reload]);

  const forbidden = hooks.error instanceof ApiError && hooks.error.status === 403;
  const shown = rows.find((w) => w.id === logOf) ?? null;
  return (
    <section class="stack webhooks">
      <h1>Webhooks</h1>
      <p class="hint">Loupe POSTs the project's events to these receivers, signed with each one's secret
        (header X-Loupe-Signature: sha256=…), and retries failed deliveries with a growing pause.</p>
      {forbidden
        ? <p class="banner banner-warn" data-testid="webhooks-forbidden">Only the project's admins can see and change its webhooks.</p>
        : <ErrorBanner error={error ?? hooks.error} />}
      <p class="sr-status" role="status" data-testid="webhooks-notice">{notice}</p>
      {hooks.loading && !hooks.data && <p>Loading…</p>}
      {hooks.data && rows.length === 0 && <p>No webhooks yet. Add one below.</p>}
      {rows.length > 0 && (
        <div class="table-scroll">
          <table data-testid="webhook-list">
            <caption class="sr-only">The project's webhooks and their last delivery</caption>
            <thead>
              <tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">Active</th>
                <th scope="col">Last delivery</th><th scope="col">Actions</th></tr>
            </thead>
            <tbody>
              {rows.map((w) => (
                <tr key={w.id} data-testid={`webhook-${w.id}`}>
                  <th scope="row" class="url">{w.url}</th>
                  <td>{eventLabels(w.events)}</td>
                  <td data-testid={`webhook-active-${w.id}`}>{w.active ? "yes" : <span class="status-warn">paused</span>}</td>
                  <td><LastDelivery webhook={w} /></td>
                  <td>
                    <div class="row">
                      <button type="button" class="primary" onClick={() => void sendTest(w)} data-testid={`webhook-test-${w.id}`}
                              aria-label={`Send test to ${w.url}`}>Send test</button>
                      <button type="button" aria-pressed={logOf === w.id} data-testid={`webhook-log-${w.id}`}
                              aria-label={`Deliveries of ${w.url}`}
                              onClick={() => setLogOf(logOf === w.id ? null : w.id)}>Deliveries</button>
                      <button type="button" aria-pressed={editing === w.id} data-testid={`webhook-edit-${w.id}`}
                              aria-label={`Edit ${w.url}`}
                              onClick={() => setEditing(editing === w.id ? null : w.id)}>Edit</button>
                      <button type="button" class="danger" data-testid={`webhook-delete-${w.id}`}
                              aria-label={`Delete ${w.url}`} onClick={() => void remove(w)}>Delete</button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.filter((w) => w.id === editing).map((w) => (
        <section class="card stack" key={w.id} aria-label={`Edit ${w.url}`}>
          <h2>Edit webhook</h2>
          <WebhookForm webhook={w} onSave={save(w)} onCancel={() => setEditing(null)} />
        </section>
      ))}
      {shown && <DeliveryLog webhook={shown} refreshKey={logKey} onRead={onLogRead} />}
      {hooks.data !== undefined && (
        <section class="card stack" aria-labelledby="webhook-add-title">
          <h2 id="webhook-add-title">Add a webhook</h2>
          <WebhookForm onSave={add} />
        </section>
      )}
    </section>
  );
}
