/**
 * The link's status: the linked Label Studio project (a link out), its tasks by state, the versions that came
 * back by webhook and by polling, the last sync, and — while Label Studio keeps failing — what it said, how many
 * times and when Loupe tries again.
 */

import type { LabelStudioStatus } from "../../api/endpoints";
import { reasonLabels, when } from "./words";

function Figure({ label, value, testId }: { label: string; value: string | number; testId: string }) {
  return (
    <div class="health-figure">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

function webhookState(status: LabelStudioStatus): string {
  if (!status.webhooks_enabled) return "off: Loupe polls Label Studio for annotations";
  if (status.webhook_registered) return "registered: annotations arrive as they are made";
  return "not registered (Label Studio refused it or did not answer): polling brings the annotations; link again to retry";
}

function autoPushState(status: LabelStudioStatus): string {
  if (!status.auto_push) return "off";
  const filter = status.push_filter ?? {};
  const min = filter.min_priority !== undefined ? `, priority ≥ ${filter.min_priority}` : "";
  return `on: ${reasonLabels(filter.reasons)}${min}`;
}

export function StatusPanel({ status }: { status: LabelStudioStatus }) {
  const tasks = status.tasks ?? { pushed: 0, pending: 0, unconfirmed: 0, annotated: 0, deleted: 0 };
  const versions = status.versions ?? { webhook: 0, poll: 0 };
  const failures = status.failures ?? 0;
  return (
    <section class="card stack" aria-labelledby="ls-status-title" data-testid="ls-status">
      <h2 id="ls-status-title">Linked project</h2>
      <p data-testid="ls-linked-project">
        {status.ls_project_url
          ? <a href={status.ls_project_url} target="_blank" rel="noopener noreferrer" data-testid="ls-project-link">
              Label Studio project {status.ls_project_id} ↗</a>
          : <>No Label Studio project yet: link again.</>}
        {" "}at <span class="url">{status.url}</span>
      </p>
      {failures > 0 && (
        <p class="banner banner-error" role="alert" data-testid="ls-failing">
          Label Studio failed {failures === 1 ? "once" : `${failures} times in a row`}
          {status.last_error_at ? ` (last at ${when(status.last_error_at)})` : ""}: {status.last_error ?? "no answer"}.
          {" "}Next automatic try: {when(status.next_attempt_at, "at the next sync")}. “Sync now” tries at once.
        </p>
      )}
      <dl class="health-figures">
        <Figure label="Tasks pushed" value={tasks.pushed} testId="ls-tasks-pushed" />
        <Figure label="Waiting in Label Studio" value={tasks.pending} testId="ls-tasks-pending" />
        <Figure label="Annotated" value={tasks.annotated} testId="ls-tasks-annotated" />
        <Figure label="Deleted there (back in the queue)" value={tasks.deleted} testId="ls-tasks-deleted" />
        <Figure label="Versions by webhook" value={versions.webhook} testId="ls-versions-webhook" />
        <Figure label="Versions by poll" value={versions.poll} testId="ls-versions-poll" />
        <Figure label="Last sync" value={when(status.last_sync_at)} testId="ls-last-sync" />
      </dl>
      {tasks.unconfirmed > 0 && (
        <p class="hint" data-testid="ls-tasks-unconfirmed">{tasks.unconfirmed} of the waiting tasks are not confirmed
          by Label Studio yet; the next sync matches them (never sending them twice).</p>
      )}
      <ul class="plain-list">
        <li>Webhook: <span data-testid="ls-webhook-state">{webhookState(status)}</span></li>
        <li>Auto-push: <span data-testid="ls-auto-push-state">{autoPushState(status)}</span></li>
        <li>Loupe's address for Label Studio: <span class="url">{status.loupe_url}</span></li>
      </ul>
      {failures === 0 && status.last_error && (
        <p class="hint" data-testid="ls-last-error">Last problem ({when(status.last_error_at)}): {status.last_error}</p>
      )}
    </section>
  );
}
