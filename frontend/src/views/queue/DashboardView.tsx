/** Queue dashboard: the detail's stats once, then live `queue.stats` snapshots and item events. */

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { readProject } from "../../api/endpoints";
import type { QueueStats } from "../../api/shapes";
import { useProjectMessage } from "../../realtime/ProjectLive";
import type { ProjectMessage } from "../../realtime/messages";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { ROLE_WORK, mayOpen, seesQueueStats } from "../../roles";
import { YourCameras } from "./YourCameras";

function Breakdown({ title, counts, testId }: { title: string; counts: Record<string, number>; testId: string }) {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      {rows.length === 0 ? <p>None.</p> : (
        <table data-testid={testId}>
          <tbody>
            {rows.map(([key, n]) => <tr key={key}><th scope="row">{key}</th><td>{n}</td></tr>)}
          </tbody>
        </table>
      )}
    </section>
  );
}

function describe(m: ProjectMessage): string {
  switch (m.type) {
    case "item.leased": return `Item ${m.item} leased`;
    case "item.released": return `Item ${m.item} released`;
    case "item.accepted": return `Item ${m.item} accepted`;
    case "flag.created": return `Count flag ${m.flag} on camera ${m.camera}`;
    default: return m.type;
  }
}

export function DashboardView({ project }: { project: number }) {
  const detail = useAsync(() => readProject(project), [project]);
  const [live, setLive] = useState<QueueStats | null>(null);
  const [feed, setFeed] = useState<{ at: string; text: string }[]>([]);

  const onStats = useCallback((m: QueueStats) => setLive(m), []);
  useProjectMessage("queue.stats", onStats);
  const onEvent = useCallback((m: ProjectMessage) => {
    setFeed((f) => [{ at: new Date().toLocaleTimeString(), text: describe(m) }, ...f].slice(0, 20));
  }, []);
  useProjectMessage("item.leased", onEvent);
  useProjectMessage("item.released", onEvent);
  useProjectMessage("item.accepted", onEvent);
  useProjectMessage("flag.created", onEvent);

  // Progress to retraining moves with each acceptance and restarts when a version is frozen: re-read the
  // project's figures then, at most once a second however fast QA accepts.
  const { reload } = detail;
  const refresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onProgress = useCallback(() => {
    if (refresh.current === null) {
      refresh.current = setTimeout(() => { refresh.current = null; reload(); }, 1000);
    }
  }, [reload]);
  useEffect(() => () => { if (refresh.current !== null) clearTimeout(refresh.current); }, []);
  useProjectMessage("item.accepted", onProgress);
  useProjectMessage("training.status", onProgress);

  const p = detail.data;
  const stats: QueueStats | null | undefined = live ?? p?.stats;
  const progress = p?.stats?.threshold_progress;
  // Store managers and bus operators get their work, not the whole project's queue figures.
  const queueRole = p !== undefined && seesQueueStats(p.role);
  return (
    <section>
      <ErrorBanner error={detail.error} />
      <h1>{p?.name ?? "Project"} {queueRole && <small>queue</small>}</h1>
      {p && (
        <nav class="row" aria-label="Your work">
          {ROLE_WORK[p.role].map((w, i) => (
            <a class={i === 0 ? "button primary" : "button"} href={w.to(project)} key={w.label}
               data-testid={i === 0 ? "start-work" : undefined}>{w.label}</a>
          ))}
        </nav>
      )}
      {p && !queueRole && <YourCameras project={project} />}
      {stats && queueRole && (
        <div class="grid">
          <section class="card stats" aria-label="Queue">
            <h2>Queue</h2>
            <dl>
              <dt>Pending</dt><dd data-testid="stat-pending">{stats.pending}</dd>
              <dt>Leased</dt><dd data-testid="stat-leased">{stats.leased}</dd>
              <dt>Awaiting QA</dt><dd data-testid="stat-submitted">{stats.submitted}</dd>
              <dt>Accepted today</dt><dd data-testid="stat-accepted-today">{stats.accepted_today}</dd>
            </dl>
          </section>
          <Breakdown title="Pending by reason" counts={stats.pending_by_reason} testId="pending-by-reason" />
          <Breakdown title="Pending by site" counts={stats.pending_by_site} testId="pending-by-site" />
          {p?.stats && (
            <section class="card" aria-label="Throughput and retraining">
              <h2>Last 24 h</h2>
              <Breakdown title="Items per annotator" counts={p.stats.throughput_24h} testId="throughput" />
              <p>Median time per item: {p.stats.median_seconds_per_item?.toFixed(1) ?? "–"} s</p>
              <p>Agreement: {p.stats.agreement === null ? "–" : `${(p.stats.agreement * 100).toFixed(0)} %`}</p>
              <label>
                Progress to retraining ({p.stats.accepted_since_retrain ?? 0} / {p.stats.retrain_threshold ?? "–"})
                <progress max={1} value={progress ?? 0} data-testid="threshold-progress" />
              </label>
            </section>
          )}
        </div>
      )}
      {queueRole && <section class="card" aria-label="Live activity">
        <h2>Live activity</h2>
        <ol class="feed" data-testid="live-feed" aria-live="polite">
          {feed.map((f, i) => <li key={i}><time>{f.at}</time> {f.text}</li>)}
        </ol>
        {p && mayOpen("qa", p.role) && <p><a href={href.qa(project)}>Open the QA review</a></p>}
      </section>}
    </section>
  );
}
