/** The top bar's bell: the project's open, unsilenced alerts (docs/alerts.md), linking to the Alerts page.
 * Re-reads its counts when told (`alerts.changed` push, an action on the Alerts page) and every minute. */

import { useEffect } from "preact/hooks";
import { readAlertSummary } from "../../api/endpoints";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { href } from "../../router";
import { useAsync } from "../../ui/useAsync";
import { ALERTS_CHANGED, announceAlertsChanged, bellBadge, bellLabel } from "./alerts";

const POLL_MS = 60_000;

export function AlertBell({ project }: { project: number }) {
  const summary = useAsync(() => readAlertSummary(project), [project]);
  const reload = summary.reload;
  useEffect(() => {
    window.addEventListener(ALERTS_CHANGED, reload);
    const timer = window.setInterval(reload, POLL_MS);
    return () => {
      window.removeEventListener(ALERTS_CHANGED, reload);
      window.clearInterval(timer);
    };
  }, [reload]);
  const badge = bellBadge(summary.data);
  const critical = (summary.data?.by_severity.critical ?? 0) > 0;
  return (
    <a class={`alert-bell${critical ? " critical" : ""}`} href={href.alerts(project)} data-testid="alert-bell"
       aria-label={bellLabel(summary.data)} title={bellLabel(summary.data)}>
      {/* Drawn, not an emoji: a machine without an emoji font shows a box instead. */}
      <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor"
           stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
        <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
        <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
      </svg>
      {badge && <span class="alert-bell-count" data-testid="alert-bell-count">{badge}</span>}
    </a>
  );
}

/** Inside the project's live socket: turns the `alerts.changed` push into the window event the bell hears
 * (the bell sits in the top bar, outside the socket's context). */
export function AlertsLive() {
  useProjectMessage("alerts.changed", announceAlertsChanged);
  return null;
}
