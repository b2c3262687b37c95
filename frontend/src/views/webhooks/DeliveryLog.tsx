/**
 * One webhook's delivery log, newest first, a page at a time ("Show older" asks for the rows before the last one
 * shown). Each attempt's outcome is pushed to the project's admins (`webhook.delivery`), and the first page is
 * read again when one of this webhook's arrives: a test's result shows up without a click or polling.
 */

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type WebhookDeliveryRow, type WebhookRow, listDeliveries } from "../../api/endpoints";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { when } from "./fields";

export const PAGE_SIZE = 20;

const STATUS_CLASS: Record<WebhookDeliveryRow["status"], string> = {
  delivered: "status-ok", pending: "status-warn", failed: "status-bad",
};

interface Props {
  webhook: WebhookRow;
  /** Bumped by the page to read the log again (after "Send test"). */
  refreshKey: number;
  /** After each read of the first page, so the list's "last delivery" can follow. */
  onRead?: (rows: WebhookDeliveryRow[]) => void;
}

export function DeliveryLog({ webhook, refreshKey, onRead }: Props) {
  const [rows, setRows] = useState<WebhookDeliveryRow[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  const onReadRef = useRef(onRead);
  onReadRef.current = onRead;

  const readFirst = useCallback(async (): Promise<WebhookDeliveryRow[] | null> => {
    setLoading(true);
    try {
      // One row more than a page tells whether an older page exists.
      const page = await listDeliveries(webhook.id, { limit: PAGE_SIZE + 1 });
      setError(null);
      return page;
    } catch (err) {
      setError(err);
      return null;
    } finally {
      setLoading(false);
    }
  }, [webhook.id]);

  useEffect(() => {
    let live = true;
    void readFirst().then((page) => {
      if (!live || page === null) return;
      setRows(page.slice(0, PAGE_SIZE));
      setMore(page.length > PAGE_SIZE);
      onReadRef.current?.(page);
    });
    return () => { live = false; };
  }, [readFirst, refreshKey, tick]);

  // An attempt of this webhook ended (a test, a retry): read the first page again for its outcome.
  const onDelivery = useCallback((m: { webhook: number }) => {
    if (m.webhook === webhook.id) setTick((t) => t + 1);
  }, [webhook.id]);
  useProjectMessage("webhook.delivery", onDelivery);

  const older = async () => {
    const last = rows?.[rows.length - 1];
    if (!last) return;
    setLoading(true);
    try {
      const page = await listDeliveries(webhook.id, { limit: PAGE_SIZE + 1, before: last.id });
      setRows((now) => [...(now ?? []), ...page.slice(0, PAGE_SIZE)]);
      setMore(page.length > PAGE_SIZE);
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };

  const refresh = () => setTick((t) => t + 1);

  return (
    <section class="card stack" aria-labelledby={`deliveries-${webhook.id}-title`} data-testid={`deliveries-${webhook.id}`}>
      <div class="row">
        <h2 id={`deliveries-${webhook.id}-title`}>Deliveries to <span class="url">{webhook.url}</span></h2>
        <span class="spacer" />
        <button type="button" onClick={refresh} disabled={loading} data-testid={`deliveries-${webhook.id}-refresh`}>
          Refresh</button>
      </div>
      <ErrorBanner error={error} testId={`deliveries-${webhook.id}-error`} />
      <p class="sr-status" aria-live="polite">{loading ? "Loading deliveries…" : rows ? `${rows.length} ${rows.length === 1 ? "delivery" : "deliveries"} shown${more ? ", older ones available" : ""}.` : ""}</p>
      {rows !== null && rows.length === 0 && <p>No deliveries yet. “Send test” sends a signed ping.</p>}
      {rows !== null && rows.length > 0 && (
        <div class="table-scroll">
          <table data-testid={`deliveries-${webhook.id}-table`}>
            <caption class="sr-only">Deliveries, newest first</caption>
            <thead>
              <tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Status</th>
                <th scope="col">Response</th><th scope="col">Attempts</th><th scope="col">Next retry</th>
                <th scope="col">Error</th></tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id} data-testid={`delivery-${d.id}`}>
                  <th scope="row">{when(d.created_at)}</th>
                  <td><code>{d.event}</code></td>
                  <td><span class={STATUS_CLASS[d.status]} data-testid={`delivery-status-${d.id}`}>{d.status}</span></td>
                  <td>{d.last_status_code ?? "—"}</td>
                  <td>{d.attempts}</td>
                  <td>{d.status === "pending" ? when(d.next_attempt_at) : "—"}</td>
                  <td class="error-text">{d.last_error || "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more && (
        <button type="button" class="self-start" onClick={() => void older()} disabled={loading}
                data-testid={`deliveries-${webhook.id}-older`}>Show older deliveries</button>
      )}
    </section>
  );
}
