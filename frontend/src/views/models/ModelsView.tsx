/**
 * Models page: the project's ONNX detectors (candidate → shadow → champion → retired), upload for admins, the
 * promote/rollback actions with confirmation, the shadow evaluation of a model against the champion,
 * overall and per slice, and (admins) the retraining settings. Follows `model.promoted` / `model.alert` pushes.
 */

import { useCallback, useState } from "preact/hooks";
import {
  type EvaluationRow, type ModelRow, listModels, promoteModel, readEvaluation, readProject, rollbackModel,
  startEvaluation, uploadModel,
} from "../../api/endpoints";
import { href } from "../../router";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { type DetectionReport, METRICS, comparisonRows, fmt, framesLabel, thresholdSource, verdict } from "./report";
import { RetrainingSettings } from "./RetrainingSettings";
import { PinsPanel } from "./PinsPanel";
import { RolloutsPanel } from "./RolloutsPanel";
import { StartRollout } from "./StartRollout";
import { TrainingPanel } from "./TrainingPanel";

const size = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

function UploadForm({ project, onDone }: { project: number; onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [classes, setClasses] = useState("");
  const [size, setSize] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      await uploadModel(project, { file, name: name || file.name.replace(/\.onnx$/i, ""),
                                   classes: classes.split(",").map((c) => c.trim()).filter(Boolean),
                                   inputSize: /^\d+$/.test(size) ? Number(size) : undefined });
      setFile(null);
      setName("");
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card stack" onSubmit={(e) => void submit(e)} data-testid="model-upload">
      <h2>Upload an ONNX detector</h2>
      <p class="hint">One self-contained .onnx file: input [1, 3, S, S], output [1, 4 + C, N] (Ultralytics YOLOv8/11
        export). It is checked and test-run in a sandbox before it is stored as a candidate.</p>
      <label>File <input type="file" accept=".onnx" required data-testid="model-file"
                         onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} /></label>
      <label>Name <input value={name} maxLength={120} data-testid="model-name" onInput={(e) => setName(e.currentTarget.value)} /></label>
      <label>Classes, in output order (only if the file has no <code>names</code> metadata)
        <input value={classes} placeholder="person, bag" onInput={(e) => setClasses(e.currentTarget.value)} /></label>
      <label>Input size (only for dynamic inputs) <input inputMode="numeric" value={size} placeholder="640"
                                                        onInput={(e) => setSize(e.currentTarget.value)} /></label>
      <button type="submit" class="primary" disabled={!file || busy} data-testid="model-upload-submit">
        {busy ? "Validating…" : "Upload"}</button>
      <ErrorBanner error={error} />
    </form>
  );
}

function Cell({ metric, candidate, champion, minFrames }: { metric: (typeof METRICS)[number]; candidate: DetectionReport;
                                                            champion: DetectionReport | null; minFrames: number }) {
  const v = verdict(metric, candidate, champion, minFrames);
  const cls = v === 1 ? "status-ok" : v === -1 ? "status-bad" : "";
  const digits = metric.key === "count_mae" ? 2 : 3;
  return (
    <td class={cls}>
      {fmt(candidate[metric.key], digits)}
      {champion && <small> vs {fmt(champion[metric.key], digits)}</small>}
      {v === 1 && <span class="sr-only"> (better)</span>}{v === -1 && <span class="sr-only"> (worse)</span>}
    </td>
  );
}

function EvaluationPanel({ model, admin }: { model: ModelRow; admin: boolean }) {
  const evaluation = useAsync(() => readEvaluation(model.id), [model.id]);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setError(null);
    try {
      await startEvaluation(model.id);
      evaluation.reload();
    } catch (err) {
      setError(err);
    }
  };
  const e: EvaluationRow | null | undefined = evaluation.data;
  const report = e?.status === "done" ? (e.report as { candidate: DetectionReport; champion?: DetectionReport }) : null;
  const minFrames = e?.min_frames ?? 0;
  const candidateAt = report?.candidate.score_threshold;
  const championAt = report?.champion?.score_threshold;
  const thresholdsDiffer = candidateAt !== undefined && championAt !== undefined && candidateAt !== championAt;
  return (
    <section class="card stack" aria-label={`Evaluation of ${model.display_name}`} data-testid="evaluation">
      <h2>Shadow evaluation: {model.display_name}</h2>
      {admin && <button type="button" onClick={() => void run()} data-testid="evaluate">Evaluate on the latest test split</button>}
      <ErrorBanner error={error ?? evaluation.error} />
      {e === null && <p>Not evaluated yet.</p>}
      {e && e.status === "running" && <p aria-live="polite">Running… <button type="button" onClick={evaluation.reload}>Refresh</button></p>}
      {e && e.status === "failed" && <p class="banner banner-warn">The evaluation failed: {e.error}</p>}
      {report && e && (
        <div class="table-scroll stack">
          <p data-testid="evaluation-frames">{framesLabel(e.frames_source, e.images ?? 0, e.dataset_number)}
            {report.champion ? `, against the champion${report.champion.display_name ? ` (${report.champion.display_name})` : ""}` : " · no champion to compare with"}
            {report.champion && !e.too_few_frames && " · green: better than the champion, red: worse"}.</p>
          {e.too_few_frames && (
            <p class="banner banner-warn" role="status" data-testid="evaluation-too-few">
              Too few frames to compare (n={e.images}; at least {minFrames} are needed): the numbers are shown,
              but no difference is called better or worse.</p>)}
          {candidateAt !== undefined && (
            <p class="hint" data-testid="evaluation-thresholds">Precision, recall and counts are scored at each
              model's operating threshold: this model at score ≥ {fmt(candidateAt, 2)} ({thresholdSource(report.candidate.threshold_source)})
              {championAt !== undefined && <>, the champion at ≥ {fmt(championAt, 2)} ({thresholdSource(report.champion?.threshold_source)})</>}.
              {thresholdsDiffer && <strong> The thresholds differ, so those numbers differ even for the same weights; mAP does not depend on them.</strong>}</p>)}
          <table data-testid="evaluation-table">
            <caption class="sr-only">Candidate against champion, overall and per slice</caption>
            <thead><tr><th scope="col">Slice</th><th scope="col">Frames</th>
              {METRICS.map((m) => <th scope="col" key={m.key}>{m.label}</th>)}</tr></thead>
            <tbody>
              {comparisonRows(report).map((row) => (
                <tr key={row.key} data-testid={`eval-row-${row.key}`}>
                  <th scope="row">{row.slice}{row.value && <small> {row.value}</small>}</th>
                  <td>{row.images}</td>
                  {METRICS.map((m) => <Cell key={m.key} metric={m} candidate={row.candidate} champion={row.champion}
                                            minFrames={minFrames} />)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function ModelsView({ project }: { project: number }) {
  const models = useAsync(() => listModels(project), [project]);
  const detail = useAsync(() => readProject(project), [project]);
  const admin = detail.data?.role === "admin";
  const [selected, setSelected] = useState<number | null>(null);
  const [rollingOut, setRollingOut] = useState<number | null>(null);
  const [rolloutsSeen, setRolloutsSeen] = useState(0); // bumps the rollouts panel after a start
  const [error, setError] = useState<unknown>(null);
  const reload = models.reload;
  const onPush = useCallback(() => reload(), [reload]);
  useProjectMessage("model.promoted", onPush);
  useProjectMessage("model.alert", onPush);

  const act = async (what: () => Promise<unknown>, question: string) => {
    if (!window.confirm(question)) return;
    setError(null);
    try {
      await what();
      reload();
    } catch (err) {
      setError(err);
    }
  };
  const rows = models.data ?? [];
  const chosen = rows.find((m) => m.id === selected) ?? null;
  const hasChampion = rows.some((m) => m.status === "champion");
  const toRollOut = rows.find((m) => m.id === rollingOut) ?? null;
  return (
    <section class="stack">
      <h1>Models</h1>
      {admin && <p><a href={href.imports(project)} data-testid="models-import-link">Import labels made elsewhere…</a>
        {" "}(Label Studio, COCO, YOLO, VOC or CSV, queued for review as pre-labels){" · "}
        <a href={href.labelstudio(project)} data-testid="models-labelstudio-link">Label Studio link…</a>
        {" "}(send items to a Label Studio project; its annotations come back as versions)</p>}
      <ErrorBanner error={error ?? models.error} />
      {rows.length === 0 && !models.loading && <p>No models uploaded yet.</p>}
      {rows.length > 0 && (
        <div class="table-scroll">
          <table data-testid="model-list">
            <caption class="sr-only">Model versions</caption>
            <thead><tr><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Classes</th>
              <th scope="col">Input</th><th scope="col">File</th><th scope="col">Lineage</th><th scope="col">Approved by</th>
              <th scope="col">Actions</th></tr></thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.id} data-testid={`model-${m.id}`}>
                  <th scope="row">{m.display_name}</th>
                  <td><span class={`model-status model-${m.status}`} data-testid={`model-status-${m.id}`}>{m.status}</span>
                    {m.out_of_service && <span class="status-bad" title={m.out_of_service_reason}> · out of service</span>}</td>
                  <td>{(m.classes as string[]).join(", ")}</td>
                  <td>{m.input_width}×{m.input_height}</td>
                  <td><code title={m.sha256}>{m.sha256.slice(0, 12)}</code> · {size(m.size_bytes)}</td>
                  <td data-testid={`model-lineage-${m.id}`}>{m.dataset_version != null
                    ? <>dataset #{m.dataset_version}{m.code_version && <> · code <code>{m.code_version.slice(0, 8)}</code></>}</>
                    : "uploaded"}</td>
                  <td>{m.approved_by ?? "—"}</td>
                  <td class="row">
                    <button type="button" onClick={() => setSelected(m.id)} data-testid={`model-eval-${m.id}`}>Evaluation</button>
                    {admin && m.status === "candidate" && (
                      <button type="button" data-testid={`model-shadow-${m.id}`}
                              onClick={() => void act(() => promoteModel(m.id, "shadow"), `Run ${m.display_name} in shadow?`)}>
                        Shadow</button>)}
                    {admin && m.status !== "champion" && !m.out_of_service && (
                      <button type="button" class="primary" data-testid={`model-promote-${m.id}`}
                              onClick={() => void act(() => promoteModel(m.id, "champion"),
                                                      `Make ${m.display_name} the champion? Every device will download it now, and a rollout in progress ends.`)}>
                        Make champion</button>)}
                    {admin && hasChampion && (m.status === "candidate" || m.status === "shadow") && !m.out_of_service && (
                      <button type="button" data-testid={`model-rollout-${m.id}`} onClick={() => setRollingOut(m.id)}>
                        Roll out in stages…</button>)}
                    {admin && m.status === "champion" && m.replaces !== null && (
                      <button type="button" class="danger" data-testid={`model-rollback-${m.id}`}
                              onClick={() => void act(() => rollbackModel(m.id), "Roll back to the previous champion?")}>
                        Roll back</button>)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {admin && toRollOut && (
        <StartRollout model={toRollOut} onCancel={() => setRollingOut(null)}
                      onStarted={() => { setRollingOut(null); setRolloutsSeen((n) => n + 1); reload(); }} />)}
      <RolloutsPanel key={rolloutsSeen} project={project} models={rows} admin={admin} onChange={reload} />
      {rows.length > 0 && <PinsPanel project={project} models={rows} admin={admin} />}
      {chosen && <EvaluationPanel model={chosen} admin={admin} />}
      <TrainingPanel project={project} admin={admin} onModels={reload} />
      {admin && <RetrainingSettings project={project} />}
      {admin && <UploadForm project={project} onDone={reload} />}
    </section>
  );
}
