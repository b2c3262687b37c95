// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "./fakeSocket";

const listTrainingRuns = vi.fn(async () => [{ id: 7, project: 1, dataset_version: 3, request: 2, backend: "reference",
  status: "running", metrics: { progress: 0.1 }, model_version: null, error: "", log_tail: ["step 0/40 loss 2.1"],
  created_at: "2026-12-01T10:00:00Z", started_at: "2026-12-01T10:00:01Z", finished_at: null }]);
const job = { id: 11, dataset_version: 3, format: "yolo", archive: "zip", include_images: true, progress: 0,
              size_bytes: null, sha256: "", error: "", attempts: 0, requested_by: "dana", created_at: "", started_at: null,
              finished_at: null, download_url: null };
const requestExport = vi.fn(async (_d: number, format: string) => ({ ...job, format, status: "queued" }));
vi.mock("../src/api/endpoints", () => ({
  listTrainingRuns: () => listTrainingRuns(),
  listDatasets: vi.fn(async () => [{ id: 3, project: 1, number: 1, parent: null, request: 2, content_hash: "d".repeat(64),
    stats: { items: 10, boxes: 30, per_split: { train: 7, val: 2, test: 1 } }, created_at: "2026-12-01T10:00:00Z" }]),
  requestRetrain: vi.fn(),
  requestExport: (d: number, f: string) => requestExport(d, f),
  readExport: vi.fn(async () => ({ ...job, status: "done", size_bytes: 2_500_000, download_url: "/api/v1/exports/11/file" })),
}));

beforeEach(() => vi.stubGlobal("WebSocket", FakeSocket));
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("training panel", () => {
  it("exports a dataset version, shows its pushed progress and offers the download at its end", async () => {
    const { ProjectLive } = await import("../src/realtime/ProjectLive");
    const { TrainingPanel } = await import("../src/views/models/TrainingPanel");
    const { fireEvent } = await import("@testing-library/preact");
    render(<ProjectLive project={1}><TrainingPanel project={1} admin={true} onModels={() => undefined} /></ProjectLive>);
    await waitFor(() => expect(screen.getByTestId("export-3")).toBeTruthy());
    fireEvent.change(screen.getByTestId("export-format-3"), { target: { value: "yolo" } });
    fireEvent.click(screen.getByTestId("export-3"));
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("queued…"));
    expect(requestExport).toHaveBeenCalledWith(3, "yolo");
    act(() => FakeSocket.last!.push({ type: "export.status", export: 11, dataset: 3, status: "running", progress: 0.4 }));
    await waitFor(() => expect((screen.getByTestId("export-progress-3") as HTMLProgressElement).value).toBe(0.4));
    act(() => FakeSocket.last!.push({ type: "export.status", export: 11, dataset: 3, status: "done" }));
    await waitFor(() => expect(screen.getByTestId("export-download-3").getAttribute("href")).toBe("/api/v1/exports/11/file"));
    expect(screen.getByTestId("export-download-3").textContent).toContain("2.5 MB");
  });

  it("shows a running trainer's output and progress as they are pushed, without reloading", async () => {
    const { ProjectLive } = await import("../src/realtime/ProjectLive");
    const { TrainingPanel } = await import("../src/views/models/TrainingPanel");
    render(<ProjectLive project={1}><TrainingPanel project={1} admin={false} onModels={() => undefined} /></ProjectLive>);
    await waitFor(() => expect(screen.getByTestId("training-log-7").textContent).toBe("step 0/40 loss 2.1"));
    const loads = listTrainingRuns.mock.calls.length;
    act(() => FakeSocket.last!.push({ type: "training.status", run: 7, state: "running", progress: 0.5,
                                      log_tail: ["step 19/40 loss 1.2", "step 20/40 loss 1.1"] }));
    await waitFor(() => expect(screen.getByTestId("training-log-7").textContent).toContain("step 20/40 loss 1.1"));
    expect((screen.getByTestId("training-progress-7") as HTMLProgressElement).value).toBe(0.5);
    expect(listTrainingRuns.mock.calls.length).toBe(loads);
    act(() => FakeSocket.last!.push({ type: "training.status", run: 7, state: "succeeded", model: 9 }));
    await waitFor(() => expect(listTrainingRuns.mock.calls.length).toBe(loads + 1));
  });
});
