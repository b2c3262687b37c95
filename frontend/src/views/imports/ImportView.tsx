/**
 * Import labels made elsewhere (admins, README "Interchange"): pick a Label Studio export (JSON, JSON-MIN, CSV),
 * a COCO file, or the zip or tar of any of Loupe's exports (COCO, YOLO, VOC, Label Studio), see what it would
 * queue before anything is written (the server's dry run: images matched by sha256, boxes, those whose labels
 * Loupe already holds), then import it. The file is sent as its bytes; the server detects the format from its
 * content. A refused file shows where it is wrong (file, line, task, record or image, and field) and nothing is
 * stored; the imported images wait in the queue as pre-labels for review.
 */

import { useState } from "preact/hooks";
import { ApiError } from "../../api/errors";
import { type ImportReport, importLabels } from "../../api/endpoints";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";

/** Where a refused file is wrong, in words: "task 3, field value.rectanglelabels, label dog" or
 * "labels/train/….txt, line 4, field class". */
export function whereRefused(details: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof details.file === "string" && details.file !== "$") parts.push(details.file);
  for (const key of ["line", "task", "record", "image", "annotation", "prediction", "result", "category", "object"]) {
    if (typeof details[key] === "number") parts.push(`${key} ${details[key] as number}`);
  }
  if (typeof details.field === "string") parts.push(`field ${details.field}`);
  if (typeof details.label === "string") parts.push(`label ${details.label}`);
  if (typeof details.sha256 === "string") parts.push(`image ${details.sha256.slice(0, 12)}…`);
  return parts.join(", ");
}

/** What the server detected, in words. */
const FORMATS: Record<string, string> = {
  "label-studio": "Label Studio task list",
  "label-studio-min": "Label Studio JSON-MIN export",
  "label-studio-csv": "Label Studio CSV export",
  coco: "COCO file",
  yolo: "YOLO dataset",
  voc: "Pascal VOC dataset",
  csv: "CSV of boxes",
};

/** The file types the picker offers: JSON, CSV, VOC XML and the archives exports are written as. */
export const ACCEPTED = ".json,.csv,.xml,.zip,.tar,application/json,text/csv,application/zip,application/x-tar";

/** The report in one sentence: what the import queues, and what Loupe already has. */
export function describeReport(report: ImportReport): string {
  const format = FORMATS[report.format] ?? `${report.format} file`;
  const queued = report.dry_run ? "would queue" : "queued";
  const present = report.already_present
    ? `; ${report.already_present} already in Loupe with these labels, left as they are` : "";
  return `A ${format}: ${queued} ${report.items} image${report.items === 1 ? "" : "s"} with ${report.boxes} `
    + `box${report.boxes === 1 ? "" : "es"} for review${present}.`;
}

export function ImportView({ project }: { project: number }) {
  const [file, setFile] = useState<File | null>(null);
  const [checked, setChecked] = useState<ImportReport | null>(null);
  const [done, setDone] = useState<ImportReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const choose = (input: HTMLInputElement) => {
    const picked = input.files?.[0];
    setChecked(null);
    setDone(null);
    setError(null);
    setFile(picked ?? null);
  };
  const run = async (dryRun: boolean) => {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      // The file's bytes as they are (an archive is not text); the server reads the format from its content.
      const report = await importLabels(project, file as unknown as string, dryRun);
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
      <p class="hint">A Label Studio export (JSON, JSON-MIN or CSV), a COCO detection file, or the zip or tar of
        a COCO, YOLO, VOC or Label Studio export (Loupe's own: export without images to keep it small). Images are
        matched by the sha256 in their file name or URL, and must be images this project already holds; nothing
        is fetched. Loupe's CSV export holds counts, not boxes, and cannot be imported.
        Imported boxes become pre-labels that people review like a model's.</p>
      <label for="import-file">File</label>
      <input id="import-file" type="file" accept={ACCEPTED} data-testid="import-file"
             onChange={(e) => choose(e.currentTarget)} />
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
