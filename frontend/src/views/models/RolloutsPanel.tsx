/**
 * The project's staged rollouts on the models page (docs/rollouts.md): status, stage, the last gate check, and
 * the admin's pause/resume/advance/abort, and why a halted one halted. Rollouts start from a model's "Roll out in
 * stages…" (StartRollout); the panel shows nothing until a project has one.
 */

import { useState } from "preact/hooks";
import { type ModelRow, type RolloutAction, type RolloutRow, listRollouts, rolloutAction } from "../../api/endpoints";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";

const ACTIONS: Record<string, RolloutAction[]> = {
  running: ["pause", "advance", "abort"],
  paused: ["resume", "advance", "abort"],
};

interface GateFigure { metric: string; verdict: string; candidate: number | null; champion: number | null;
                      tolerance: number; comparison: string }

const figure = (v: number | null) => (v === null ? "no data" : Number(v.toFixed(3)).toString());

/** "inference_ms_p95 95 vs 40 (ratio ≤ 0.25)": a gate's figures in one phrase. */
export function gateText(g: GateFigure): string {
  return `${g.metric} ${figure(g.candidate)} vs ${figure(g.champion)} (${g.comparison} ≤ ${g.tolerance})`;
}

function lastCheck(r: RolloutRow): string {
  const last = r.last_evaluation as { decision?: string; at?: string } | null;
  const halted = (r.halt_reason as { gates?: GateFigure[] } | null)?.gates ?? [];
  if (r.status === "halted" && halted.length > 0) return `halted: ${halted.map(gateText).join("; ")}`;
  return last?.decision ? `${last.decision} at ${new Date(last.at ?? "").toLocaleString()}` : "not checked yet";
}

export function RolloutsPanel({ project, models, admin, onChange }: {
  project: number; models: ModelRow[]; admin: boolean; onChange: () => void;
}) {
  const rollouts = useAsync(() => listRollouts(project), [project]);
  const [error, setError] = useState<unknown>(null);
  const rows = rollouts.data ?? [];
  if (rows.length === 0) return null;
  const name = (id: number | null | undefined) => models.find((m) => m.id === id)?.display_name ?? `#${id ?? "—"}`;
  const act = async (r: RolloutRow, action: RolloutAction) => {
    if (!window.confirm(`${action.charAt(0).toUpperCase()}${action.slice(1)} the rollout of ${name(r.model)}?`)) return;
    setError(null);
    try {
      await rolloutAction(r.id, action, r.stage_index ?? 0);
      rollouts.reload();
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="stack" data-testid="rollouts">
      <h2>Rollouts</h2>
      <ErrorBanner error={error ?? rollouts.error} />
      <div class="table-scroll">
        <table>
          <caption class="sr-only">Staged rollouts</caption>
          <thead><tr><th scope="col">Model</th><th scope="col">Status</th><th scope="col">Stage</th>
            <th scope="col">Last check</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-testid={`rollout-${r.id}`}>
                <th scope="row">{name(r.model)} <small>(from {name(r.previous)})</small></th>
                <td data-testid={`rollout-status-${r.id}`}>{r.status}</td>
                <td>{(r.stage_index ?? 0) + 1} of {(r.stages as unknown[]).length}</td>
                <td data-testid={`rollout-check-${r.id}`}>{lastCheck(r)}</td>
                <td class="row">{admin && (ACTIONS[r.status] ?? []).map((action) => (
                  <button type="button" key={action} class={action === "abort" ? "danger" : undefined}
                          data-testid={`rollout-${action}-${r.id}`} onClick={() => void act(r, action)}>{action}</button>
                ))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
