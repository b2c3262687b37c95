/**
 * Manager counts: a camera's model counts over time, a window picked on the chart (or typed), the observed
 * count flagged, and what the review of each flag concluded (in the list and as shaded windows on the chart).
 * The model's count of a window is always the server's (`countWindow`): the number the flag will store.
 * New flags and accepted reviews arrive live.
 */

import { useCallback, useMemo, useState } from "preact/hooks";
import { cameraCounts, countWindow, createCountFlag, listCameras, listCountFlags } from "../../api/endpoints";
import type { Bucket, CountFlag } from "../../api/shapes";
import { toColumns } from "../../counts/series";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { windowText } from "../flags/FlagNumbers";
import { CountsChart, type FlagBand } from "./CountsChart";

const RANGES = { "24 h": 86400, "7 days": 7 * 86400, "30 days": 30 * 86400 } as const;

/** `<input type="datetime-local">` speaks local time without a zone; the API wants an explicit offset. */
function toLocalInput(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
function fromLocalInput(value: string): number | null {
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? t / 1000 : null;
}

/** What the review of a flag concluded, in words: the reviewed count and when, or that it is still waiting. */
function outcomeText(f: CountFlag): string {
  if (f.status !== "reviewed") return `Waiting for review (item ${f.review_item.status})`;
  const when = f.reviewed_at ? ` on ${new Date(f.reviewed_at).toLocaleString()}` : "";
  return f.reviewed_count === null ? `Reviewed${when}, no count given` : `Reviewed${when}: true count ${f.reviewed_count}`;
}

function bandOf(f: CountFlag): FlagBand {
  const outcome = f.status === "reviewed" ? `reviewed: ${f.reviewed_count ?? "—"}` : "open";
  return { id: f.id, from: Date.parse(f.from) / 1000, to: Date.parse(f.to) / 1000, reviewed: f.status === "reviewed",
           label: `#${f.id} saw ${f.observed_count} · model ${f.model_count ?? "–"} · ${outcome}` };
}

/** The cameras the caller may see counts for (a manager or operator: their sites only), with open flags. */
function CameraPicker({ project }: { project: number }) {
  const cameras = useAsync(() => listCameras(project), [project]);
  const reload = cameras.reload;
  useProjectMessage("flag.created", reload);
  return (
    <section class="card stack">
      <h1>Counts</h1>
      <ErrorBanner error={cameras.error} />
      {cameras.data && cameras.data.length === 0 && <p>No cameras you can see in this project yet.</p>}
      {cameras.data && cameras.data.length > 0 && (
        <table data-testid="camera-list">
          <caption class="sr-only">Cameras</caption>
          <thead><tr><th scope="col">Site</th><th scope="col">Camera</th><th scope="col">Last seen</th>
            <th scope="col">Open flags</th></tr></thead>
          <tbody>
            {cameras.data.map((c) => (
              <tr key={c.id}>
                <td>{c.site.name}</td>
                <td><a href={href.counts(project, c.id)} data-testid={`camera-${c.id}`}>{c.name}</a></td>
                <td>{c.last_seen_at ? new Date(c.last_seen_at).toLocaleString() : "never"}</td>
                <td>{c.open_flags}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cameras.loading && !cameras.data && <p>Loading…</p>}
    </section>
  );
}

export function CountsView({ project, camera }: { project: number; camera: number | null }) {
  if (camera === null) return <CameraPicker project={project} />;
  return <CameraCounts camera={camera} />;
}

function CameraCounts({ camera }: { camera: number }) {
  const [range, setRange] = useState<keyof typeof RANGES>("24 h");
  const [bucket, setBucket] = useState<Bucket>("1h");
  const [end] = useState(() => Math.ceil(Date.now() / 60_000) * 60);
  const start = end - RANGES[range];
  const counts = useAsync(() => cameraCounts(camera, { from: new Date(start * 1000).toISOString(),
                                                       to: new Date(end * 1000).toISOString(), bucket }),
                          [camera, start, end, bucket]);
  const flags = useAsync(() => listCountFlags(camera), [camera]);
  const columns = useMemo(() => (counts.data ? toColumns(counts.data) : null), [counts.data]);

  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [observed, setObserved] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState<string | null>(null);

  const reloadFlags = flags.reload;
  const onFlag = useCallback((m: { camera: number }) => { if (m.camera === camera) reloadFlags(); }, [camera, reloadFlags]);
  useProjectMessage("flag.created", onFlag);
  useProjectMessage("item.accepted", reloadFlags); // a flag's review may have concluded
  const bands = useMemo(() => (flags.data ?? []).map(bandOf), [flags.data]);

  // The current bucket ends in the future, which a flag may not: a window dragged into it stops at now.
  const onSelect = useCallback((a: number, b: number) => {
    setFrom(Math.floor(a));
    setTo(Math.min(Math.ceil(b), Math.floor(Date.now() / 1000)));
  }, []);
  // The server counts the window exactly as the flag will store it: one definition, one number.
  const picked = from !== null && to !== null && to > from;
  const preview = useAsync(() => (picked ? countWindow(camera, { from: new Date(from * 1000).toISOString(),
                                                                 to: new Date(to * 1000).toISOString() })
                                         : Promise.resolve(null)), [camera, from, to]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSent(null);
    if (from === null || to === null) { setError(new Error("Pick a window: drag on the chart or type the times.")); return; }
    try {
      const flag = await createCountFlag(camera, { from: new Date(from * 1000).toISOString(),
                                                    to: new Date(to * 1000).toISOString(),
                                                    observed_count: Number(observed), note });
      setSent(`Flag #${flag.id} sent: the model counted ${flag.model_count ?? "–"}, you saw ${flag.observed_count}.`);
      setObserved("");
      setNote("");
      flags.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <h1>{counts.data ? `${counts.data.site} · ${counts.data.camera_name}` : `Camera ${camera}`}: counts</h1>
      <div class="row">
        <label>
          Range
          <select value={range} data-testid="counts-range" onChange={(e) => setRange(e.currentTarget.value as keyof typeof RANGES)}>
            {Object.keys(RANGES).map((r) => <option key={r}>{r}</option>)}
          </select>
        </label>
        <label>
          Bucket
          <select value={bucket} data-testid="counts-bucket" onChange={(e) => setBucket(e.currentTarget.value as Bucket)}>
            {(["5m", "15m", "1h", "1d"] as const).map((b) => <option key={b}>{b}</option>)}
          </select>
        </label>
      </div>
      <ErrorBanner error={counts.error} />
      {columns && <CountsChart columns={columns} bucket={counts.data!.bucket} bands={bands} onSelect={onSelect} />}
      <form class="card stack" onSubmit={submit} aria-label="Flag a count" data-testid="flag-form">
        <h2>Flag a window</h2>
        <p>Drag across the chart to pick the window, or type it.</p>
        <div class="row">
          <label>
            From
            <input type="datetime-local" required data-testid="flag-from" value={from === null ? "" : toLocalInput(from)}
                   onInput={(e) => setFrom(fromLocalInput(e.currentTarget.value))} />
          </label>
          <label>
            To
            <input type="datetime-local" required data-testid="flag-to" value={to === null ? "" : toLocalInput(to)}
                   onInput={(e) => setTo(fromLocalInput(e.currentTarget.value))} />
          </label>
        </div>
        <p data-testid="model-count">
          Model count in this window: {!picked ? "–" : preview.loading ? "…" : preview.data?.model_count ?? "–"}
          {picked && preview.data && <small> ({preview.data.assets} frames or clips for the reviewer)</small>}
        </p>
        <ErrorBanner error={picked ? preview.error : null} testId="model-count-error" />
        <label>
          Observed count
          <input type="number" min={0} required value={observed} data-testid="flag-count"
                 onInput={(e) => setObserved(e.currentTarget.value)} />
        </label>
        <label>
          Note
          <textarea value={note} maxLength={2000} data-testid="flag-note" onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" data-testid="flag-submit">Flag this window</button>
        <ErrorBanner error={error} />
        {sent && <p class="banner banner-ok" role="status" data-testid="flag-sent">{sent}</p>}
      </form>
      <section class="card" aria-label="Flags on this camera">
        <h2>Flags</h2>
        <ErrorBanner error={flags.error} />
        <div class="table-scroll">
        <table data-testid="flag-list">
          <thead><tr><th>#</th><th>Window</th><th>Counts</th><th>Status</th><th>Outcome</th><th>By</th><th>Note</th></tr></thead>
          <tbody>
            {flags.data?.map((f) => (
              <tr key={f.id} data-testid={`flag-row-${f.id}`}>
                <td>{f.id}</td>
                <td>{windowText(f.from, f.to)}</td>
                <td data-testid={`flag-counts-${f.id}`}>
                  saw {f.observed_count} · model {f.model_count ?? "–"}
                  {f.status === "reviewed" && <> · <strong>review {f.reviewed_count ?? "—"}</strong></>}
                </td>
                <td data-testid={`flag-status-${f.id}`}>{f.status} (item {f.review_item.status})</td>
                <td data-testid={`flag-outcome-${f.id}`}>{outcomeText(f)}</td>
                <td>{f.flagged_by}</td>
                <td>{f.note}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      </section>
    </section>
  );
}
