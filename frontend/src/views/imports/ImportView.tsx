/**
 * Import labels made elsewhere (admins, README "Interchange"): pick a Label Studio task list or a COCO file,
 * see what it would queue before anything is written (the server's dry run: images matched by sha256, boxes,
 * those whose labels Loupe already holds), then import it. A refused file shows where it is wrong (task or
 * image, and field) and nothing is stored; the imported images wait in the queue as pre-labels for review.
 */

import { useState } from "preact/hooks";
import { ApiError } from "../../api/errors";
import { type ImportReport, importLabels } from "../../api/endpoints";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";

/** Where a refused file is wrong, in words: "task 3, field value.rectanglelabels (label dog)". */
export function whereRefused(details: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ["task", "image", "annotation", "prediction", "result", "category"]) {
    if (typeof details[key] === "number") parts.push(`${key} ${details[key] as number}`);
  }
  if (typeof details.field === "string") parts.push(`field ${details.field}`);
  if (typeof details.label === "string") parts.push(`label ${details.label}`);
  if (typeof details.sha256 === "string") parts.push(`image ${details.sha256.slice(0, 12)}…`);
  return parts.join(", ");
}

/** The report in one sentence: what the import queues, and what Loupe already has. */
export function describeReport(report: ImportReport): string {
  const format = report.format === "coco" ? "COCO file" : "Label Studio task list";
  const queued = report.dry_run ? "would queue" : "queued";
  const present = report.already_present
    ? `; ${report.already_present} already in Loupe with these labels, left as they are` : "";
  return `A ${format}: ${queued} ${report.items} image${report.items === 1 ? "" : "s"} with ${report.boxes} `
    + `box${report.boxes === 1 ? "" : "es"} for review${present}.`;
}

export function ImportView({ project }: { project: number }) {
  const [file, setFile] = useState<{ name: string; text: string } | null>(null);
  const [checked, setChecked] = useState<ImportReport | null>(null);
  const [done, setDone] = useState<ImportReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const choose = async (input: HTMLInputElement) => {
    const picked = input.files?.[0];
    setChecked(null);
    setDone(null);
    setError(null);
    setFile(picked ? { name: picked.name, text: await picked.text() } : null);
  };
  const run = async (dryRun: boolean) => {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const report = await importLabels(project, file.text, dryRun);
      if (dryRun) setChecked(report);
      else {
        setDone(report);
        setChecked(null);
      }
    } catch (err) {
      setError(err);
      setChecked(null);
    } finally {
      setBusy(false);
    }
  };
  const where = error instanceof ApiError ? whereRefused(error.details) : "";
  return (
    <section class="stack">
      <h1>Import labels</h1>
      <p class="hint">A Label Studio task list (JSON export) or a COCO detection file. Images are matched by the
        sha256 in their file name or URL, and must be images this project already holds; nothing is fetched.
        Imported boxes become pre-labels that people review like a model's.</p>
      <label for="import-file">File</label>
      <input id="import-file" type="file" accept=".json,application/json" data-testid="import-file"
             onChange={(e) => void choose(e.currentTarget)} />
      <div class="row">
        <button type="button" disabled={!file || busy} data-testid="import-check" onClick={() => void run(true)}>
          Check the file</button>
        <button type="button" disabled={!checked || checked.items === 0 || busy} data-testid="import-run"
                onClick={() => void run(false)}>
          {checked ? `Import ${checked.items} image${checked.items === 1 ? "" : "s"}` : "Import"}</button>
      </div>
      <ErrorBanner error={error} testId="import-error" />
      {where && <p class="hint" data-testid="import-where">Refused at {where}. Nothing was stored.</p>}
      {checked && <p role="status" data-testid="import-report">{describeReport(checked)}
        {checked.items === 0 && " There is nothing new to import."}</p>}
      {done && <p role="status" class="banner" data-testid="import-done">{describeReport(done)}{" "}
        <a href={href.dashboard(project)}>See the queue</a></p>}
    </section>
  );
}
