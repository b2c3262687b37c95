/**
 * Numbers: per site and camera, the model's counts against the counts people corrected (reviewed flags,
 * accepted reviews), the error, its trend and the model that counted; a chart of one camera over time; and
 * the same rows as CSV. Definitions: docs/counts-api.md. A store manager or operator sees only their sites.
 */

import { useMemo, useState } from "preact/hooks";
import { allCountRows, countSummaries, listCameras } from "../../api/endpoints";
import {
  type NumbersBucket, type NumbersFilters, csvUrl, dayBefore, dayWindow, numbersQuery, percent, toNumbersColumns,
  trendText,
} from "../../counts/numbers";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { NumbersChart } from "./NumbersChart";

const BUCKETS: NumbersBucket[] = ["hour", "day", "week"];

export function NumbersView({ project }: { project: number }) {
  const [fromDay, setFromDay] = useState(() => dayBefore(Date.now(), 29));
  const [toDay, setToDay] = useState(() => dayBefore(Date.now(), 0));
  const [bucket, setBucket] = useState<NumbersBucket>("day");
  const [site, setSite] = useState<number | null>(null);
  const [correctedOnly, setCorrectedOnly] = useState(false);
  const [picked, setPicked] = useState<number | null>(null);

  const cameras = useAsync(() => listCameras(project), [project]);
  const sites = useMemo(() => {
    const byId = new Map((cameras.data ?? []).map((c) => [c.site.id, c.site.name]));
    return [...byId].sort((a, b) => a[1].localeCompare(b[1]));
  }, [cameras.data]);

  const window = dayWindow(fromDay, toDay);
  const filters: NumbersFilters | null = window && { ...window, bucket, site, camera: null, correctedOnly };
  const key = filters ? JSON.stringify(filters) : "";
  const summaries = useAsync(() => (filters ? countSummaries(project, numbersQuery(filters)) : Promise.resolve([])),
                             [project, key]);
  const chartCamera = picked ?? summaries.data?.[0]?.camera ?? null;
  const rows = useAsync(() => (filters && chartCamera !== null
    ? allCountRows(project, numbersQuery({ ...filters, camera: chartCamera, correctedOnly: false }))
    : Promise.resolve([])), [project, key, chartCamera]);
  const columns = useMemo(() => (rows.data && rows.data.length ? toNumbersColumns(rows.data) : null), [rows.data]);
  const chartName = summaries.data?.find((s) => s.camera === chartCamera);

  return (
    <section>
      <h1>Numbers</h1>
      <p>The model's counts against the counts people corrected (reviewed count flags and accepted reviews), per
        site and camera. <small>Error rate: the share of corrected windows the model got wrong; relative error: how
        far off it was, over the corrected count.</small></p>
      <form class="card row" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>From <input type="date" value={fromDay} data-testid="numbers-from"
                           onInput={(e) => setFromDay(e.currentTarget.value)} /></label>
        <label>To <input type="date" value={toDay} data-testid="numbers-to"
                         onInput={(e) => setToDay(e.currentTarget.value)} /></label>
        <label>
          Bucket
          <select value={bucket} data-testid="numbers-bucket"
                  onChange={(e) => setBucket(e.currentTarget.value as NumbersBucket)}>
            {BUCKETS.map((b) => <option key={b} value={b}>{b}</option>)}
          </select>
        </label>
        <label>
          Site
          <select value={site ?? ""} data-testid="numbers-site"
                  onChange={(e) => { setSite(e.currentTarget.value ? Number(e.currentTarget.value) : null); setPicked(null); }}>
            <option value="">All your sites</option>
            {sites.map(([id, name]) => <option key={id} value={id}>{name}</option>)}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={correctedOnly} data-testid="numbers-corrected-only"
                 onChange={(e) => setCorrectedOnly(e.currentTarget.checked)} /> Corrected buckets only
        </label>
        {filters && <a class="button" href={csvUrl(project, filters)} download data-testid="numbers-csv">Download CSV</a>}
      </form>
      {!window && <p class="banner" role="alert" data-testid="numbers-bad-window">Pick a start day on or before the end day.</p>}
      <ErrorBanner error={cameras.error ?? summaries.error} />
      <section class="card" aria-label="Per camera">
        <div class="table-scroll">
          <table data-testid="numbers-table">
            <thead><tr>
              <th scope="col">Site</th><th scope="col">Camera</th><th scope="col">Model</th>
              <th scope="col">Model count</th><th scope="col">Corrected windows</th>
              <th scope="col">Model (corrected)</th><th scope="col">Corrected count</th>
              <th scope="col">Error rate</th><th scope="col">Relative error</th><th scope="col">Trend</th><th />
            </tr></thead>
            <tbody>
              {summaries.data?.map((s) => {
                const t = trendText(s.trend.direction);
                return (
                  <tr key={s.camera} data-testid={`numbers-row-${s.camera}`}
                      aria-selected={s.camera === chartCamera ? "true" : undefined}>
                    <td>{s.site_name}</td>
                    <td>{s.camera_name}</td>
                    <td data-testid={`numbers-model-${s.camera}`} title={s.model_sha256}>
                      {s.model_name}{s.models.length > 1 && <small> ({s.models.length - 1} earlier)</small>}
                    </td>
                    <td data-testid={`numbers-model-count-${s.camera}`}>{s.model_count}</td>
                    <td>{s.corrected_windows}</td>
                    <td>{s.corrected_model_count ?? "–"}</td>
                    <td data-testid={`numbers-corrected-${s.camera}`}>{s.corrected_count ?? "–"}</td>
                    <td data-testid={`numbers-error-rate-${s.camera}`}>{percent(s.error_rate)}</td>
                    <td data-testid={`numbers-relative-error-${s.camera}`}>{percent(s.relative_error)}</td>
                    <td data-testid={`numbers-trend-${s.camera}`} title={t.words}>
                      <span aria-hidden="true">{t.arrow}</span> <small>{t.words}</small>
                    </td>
                    <td><button type="button" data-testid={`numbers-chart-${s.camera}`}
                                onClick={() => setPicked(s.camera)}>Chart</button></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {summaries.data && summaries.data.length === 0 && <p data-testid="numbers-empty">No counts in this window.</p>}
        {summaries.loading && !summaries.data && <p>Loading…</p>}
      </section>
      {chartName && (
        <section class="card" aria-label="Over time">
          <h2>{chartName.site_name} · {chartName.camera_name} over time</h2>
          <ErrorBanner error={rows.error} />
          {columns && <NumbersChart columns={columns} />}
          {columns && columns.modelChanges.length > 0 && (
            <p data-testid="numbers-model-changes">
              Model changes (dashed lines): {columns.modelChanges.map((c) =>
                `${c.name} from ${new Date(c.at * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`).join("; ")}
            </p>
          )}
        </section>
      )}
    </section>
  );
}
