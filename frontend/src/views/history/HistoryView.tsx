/** An item's annotation versions and audit trail; every value renders as text. */

import { itemHistory } from "../../api/endpoints";
import { authorOf } from "../../api/shapes";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";

function json(value: unknown): string {
  return value === null || value === undefined ? "" : JSON.stringify(value, null, 1);
}

export function HistoryView({ project, item }: { project: number; item: number }) {
  const history = useAsync(() => itemHistory(item), [item]);
  const h = history.data;
  return (
    <section>
      <h1>Item {item}: history</h1>
      <p><a href={href.qa(project, item)}>QA review</a></p>
      <ErrorBanner error={history.error} />
      {h && (
        <>
          <p>Status {h.item.status} · reason {h.item.reason}{h.item.last_comment ? ` · last comment: ${h.item.last_comment}` : ""}</p>
          <h2>Versions</h2>
          <table data-testid="history-versions">
            <thead><tr><th>v</th><th>Author</th><th>Submitted</th><th>Boxes</th><th>Count</th><th>Verdict</th><th>Seconds</th><th>Note</th><th>Diff</th></tr></thead>
            <tbody>
              {h.versions.map((v) => (
                <tr key={v.id}>
                  <td>{v.version}</td><td>{authorOf(v)}</td><td>{new Date(v.submitted_at).toLocaleString()}</td>
                  <td>{v.boxes.length}</td><td>{v.count ?? "–"}</td><td>{v.verdict}</td>
                  <td>{v.time_spent_seconds?.toFixed(1) ?? "–"}</td><td>{v.note}</td><td><pre>{json(v.diff)}</pre></td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Audit</h2>
          <table data-testid="history-events">
            <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Before</th><th>After</th></tr></thead>
            <tbody>
              {h.events.map((e) => (
                <tr key={e.id}>
                  <td>{new Date(e.created_at).toLocaleString()}</td><td>{e.actor__username ?? "system"}</td>
                  <td>{e.action}</td><td><pre>{json(e.before)}</pre></td><td><pre>{json(e.after)}</pre></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
