// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "./fakeSocket";

const listTrainingRuns = vi.fn(async () => [{ id: 7, project: 1, dataset_version: 3, request: 2, backend: "reference",
  status: "running", metrics: { progress: 0.1 }, model_version: null, error: "", log_tail: ["step 0/40 loss 2.1"],
  created_at: "2026-12-01T10:00:00Z", started_at: "2026-12-01T10:00:01Z", finished_at: null }]);
vi.mock("../src/api/endpoints", () => ({
  listTrainingRuns: () => listTrainingRuns(),
  listDatasets: vi.fn(async () => []),
  requestRetrain: vi.fn(),
}));

beforeEach(() => vi.stubGlobal("WebSocket", FakeSocket));
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("training panel", () => {
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
