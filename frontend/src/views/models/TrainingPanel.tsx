/**
 * Retraining on the models page: the dataset versions (hash, size, splits), the training runs (backend,
 * status, the candidate each produced by its display name, errors, the log without server paths or library
 * warnings — admins can open the raw one), and an admin's "retrain now". Live on `training.status`.
 */

import { useCallback, useState } from "preact/hooks";
import {
  type ExportFormat, type ExportRow, listDatasets, listTrainingRuns, readExport, requestExport, requestRetrain,
} from "../../api/endpoints";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "—");
const FORMATS: ExportFormat[] = ["coco", "yolo", "voc", "label-studio", "csv"];

/** Export one dataset version: pick a format, then the download appears when the job's end is pushed. */
function ExportControl({ dataset }: { dataset: number }) {
  const [format, setFormat] = useState<ExportFormat>("coco");
  const [job, setJob] = useState<ExportRow | null>(null);
  const [error, setError] = useState<unknown>(null);
  const start = async () => {
    setError(null);
    try {
      const created = await requestExport(dataset, format);
      // Its end may already have been pushed (and read) while this request was answered.
      setJob((current) => (current?.id === created.id && current.status === "done" ? current : created));
    } catch (err) {
      setError(err);
    }
  };
  // Matched by dataset, not job id: an export that runs at once (embedded mode) ends before its POST answers.
  // While it runs, the push carries its progress; at its end the job is read again for the download link.
  const onStatus = useCallback((m: { export: number; dataset: number; status: string; progress?: number }) => {
    if (m.dataset !== dataset) return;
    if (m.status === "running" && m.progress !== undefined) {
      const progress = m.progress;
      setJob((current) => (current?.id === m.export && current.status !== "done" ? { ...current, status: "running", progress } : current));
    } else {
      void readExport(m.export).then(setJob, setError);
    }
  }, [dataset]);
  useProjectMessage("export.status", onStatus);
  return (
    <div class="row">
      <select value={format} aria-label="Export format" data-testid={`export-format-${dataset}`}
              onChange={(e) => setFormat(e.currentTarget.value as ExportFormat)}>
        {FORMATS.map((f) => <option key={f} value={f}>{f}</option>)}
      </select>
      <button type="button" onClick={() => void start()} data-testid={`export-${dataset}`}>Export</button>
      {job && job.status !== "done" && (
        <span role="status">{job.status}…{job.status === "running" && (
          <progress max={1} value={job.progress} aria-label={`Export of dataset ${dataset}`}
                    data-testid={`export-progress-${dataset}`} />)}</span>)}
      {job?.download_url && <a href={job.download_url} data-testid={`export-download-${dataset}`}>
        Download {job.format} ({((job.size_bytes ?? 0) / 1e6).toFixed(1)} MB)</a>}
      <ErrorBanner error={error} />
    </div>
  );
}

export function TrainingPanel({ project, admin, onModels }: { project: number; admin: boolean; onModels: () => void }) {
  const runs = useAsync(() => listTrainingRuns(project), [project]);
  const datasets = useAsync(() => listDatasets(project), [project]);
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState(false);
  const reloadRuns = runs.reload;
  const reloadDatasets = datasets.reload;
  const onStatus = useCallback(() => { reloadRuns(); reloadDatasets(); onModels(); }, [reloadRuns, reloadDatasets, onModels]);
  /** A running trainer's last lines and progress, pushed every couple of seconds (no reload for those). */
  const [live, setLive] = useState<{ run: number; tail: string[]; progress: number | null } | null>(null);
  const onMessage = useCallback((m: { [key: string]: unknown }) => {
    if (m.state === "running" && Array.isArray(m.log_tail)) {
      setLive({ run: Number(m.run), tail: m.log_tail.map(String), progress: typeof m.progress === "number" ? m.progress : null });
    } else {
      onStatus();
    }
  }, [onStatus]);
  useProjectMessage("training.status", onMessage);

  const retrain = async () => {
    if (!window.confirm("Freeze the accepted annotations into a dataset version and train a new candidate?")) return;
    setError(null);
    try {
      await requestRetrain(project);
      setSent(true);
      onStatus();
    } catch (err) {
      setError(err);
    }
  };
  const versions = new Map((datasets.data ?? []).map((d) => [d.id, d]));
  return (
    <section class="card stack" aria-label="Retraining" data-testid="training">
      <h2>Retraining</h2>
      {admin && <div class="row"><button type="button" onClick={() => void retrain()} data-testid="retrain-now">Retrain now</button>
        {sent && <span role="status">Requested.</span>}</div>}
      <ErrorBanner error={error ?? runs.error ?? datasets.error} />
      <h3>Training runs</h3>
      {(runs.data ?? []).length === 0 ? <p>No training yet.</p> : (
        <div class="table-scroll">
          <table data-testid="training-runs">
            <caption class="sr-only">Training runs</caption>
            <thead><tr><th scope="col">Run</th><th scope="col">Dataset</th><th scope="col">Backend</th>
              <th scope="col">Status</th><th scope="col">Candidate</th><th scope="col">Started</th><th scope="col">Finished</th></tr></thead>
            <tbody>
              {(runs.data ?? []).map((r) => (
                <tr key={r.id} data-testid={`training-run-${r.id}`}>
                  <th scope="row">#{r.id}</th>
                  <td>v{versions.get(r.dataset_version)?.number ?? "?"}</td>
                  <td>{r.backend}</td>
                  <td><span class={r.status === "failed" ? "status-bad" : r.status === "succeeded" ? "status-ok" : ""}>{r.status}</span>
                    {r.error && <small title={r.error}> · {r.error.slice(0, 80)}</small>}</td>
                  <td data-testid={`training-candidate-${r.id}`}>{r.model_display_name ?? (r.model_version ? `model #${r.model_version}` : "—")}</td>
                  <td>{when(r.started_at)}</td>
                  <td>{when(r.finished_at)}</td>
                </tr>
              ))}
              {(runs.data ?? []).filter((r) => r.status === "running" || (r.status === "failed" && r.log_tail.length > 0)).map((r) => {
                const tail = live?.run === r.id ? live.tail : r.log_tail;
                const metrics = r.metrics as { progress?: number };
                const progress = live?.run === r.id ? live.progress : metrics.progress ?? null;
                return (
                  <tr key={`log-${r.id}`}>
                    <td colSpan={7}>
                      {progress !== null && <progress max={1} value={progress} aria-label={`Run ${r.id} progress`}
                                                     data-testid={`training-progress-${r.id}`} />}
                      <pre class="log" aria-live="polite" data-testid={`training-log-${r.id}`}>{tail.join("\n")}</pre>
                      {r.raw_log_tail && (
                        <details data-testid={`training-raw-log-${r.id}`}>
                          <summary>Raw log (admins): server paths and library warnings as the trainer printed them</summary>
                          <pre class="log">{r.raw_log_tail.join("\n")}</pre>
                        </details>)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <h3>Dataset versions</h3>
      {(datasets.data ?? []).length === 0 ? <p>No dataset frozen yet: it happens when the accepted corrections reach the threshold.</p> : (
        <div class="table-scroll">
          <table data-testid="dataset-versions">
            <caption class="sr-only">Dataset versions</caption>
            <thead><tr><th scope="col">Version</th><th scope="col">Items</th><th scope="col">Boxes</th>
              <th scope="col">Train / val / test</th><th scope="col">Content hash</th><th scope="col">Frozen</th>
              <th scope="col">Export</th></tr></thead>
            <tbody>
              {(datasets.data ?? []).map((d) => {
                const stats = d.stats as { items?: number; boxes?: number; per_split?: Record<string, number> };
                const split = stats.per_split ?? {};
                return (
                  <tr key={d.id}>
                    <th scope="row">v{d.number}{d.parent != null && <small> (from v{versions.get(d.parent)?.number ?? "?"})</small>}</th>
                    <td>{stats.items ?? 0}</td>
                    <td>{stats.boxes ?? 0}</td>
                    <td>{split.train ?? 0} / {split.val ?? 0} / {split.test ?? 0}</td>
                    <td><code title={d.content_hash}>{d.content_hash.slice(0, 12)}</code></td>
                    <td>{when(d.created_at)}</td>
                    <td><ExportControl dataset={d.id} /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
