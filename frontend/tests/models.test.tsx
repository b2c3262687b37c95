// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { comparisonRows, METRICS, verdict } from "../src/views/models/report";

const report = (map50: number, mae: number) => ({
  images: 4, ground_truth: 6, predictions: 6, map50, map50_95: map50 / 2, precision: 0.9, recall: 0.8, count_mae: mae,
  count_bias: 0,
});

const promoteModel = vi.fn(async (...args: [number, string]) => args);
vi.mock("../src/api/endpoints", () => ({
  readProject: vi.fn(async () => ({ id: 1, role: "admin", label_classes: ["person"] })),
  listModels: vi.fn(async () => [
    { id: 2, name: "people-det", version: 2, display_name: "people-det v2", status: "candidate", classes: ["person"], input_width: 320, input_height: 320,
      sha256: "b".repeat(64), size_bytes: 1_200_000, approved_by: null, replaces: null, out_of_service: false,
      out_of_service_reason: "" },
    { id: 1, name: "people-det", version: 1, display_name: "people-det v1", status: "champion", classes: ["person"], input_width: 320, input_height: 320,
      sha256: "a".repeat(64), size_bytes: 1_200_000, approved_by: "dana", replaces: null, out_of_service: false,
      out_of_service_reason: "" },
  ]),
  readEvaluation: vi.fn(async () => ({ id: 5, model: 2, baseline: 1, dataset_version: 9, dataset_number: 2,
    status: "done", images: 4, error: "", frames_source: "dataset_test", min_frames: 30, too_few_frames: true,
    report: { candidate: { ...report(0.8, 0.5), slices: { lighting: { night: report(0.6, 1) } } },
              champion: { ...report(0.7, 0.25), slices: { lighting: { night: report(0.7, 1) } } } } })),
  promoteModel: (id: number, to: string) => promoteModel(id, to),
  rollbackModel: vi.fn(), listRollouts: vi.fn(async () => []), rolloutAction: vi.fn(), startRollout: vi.fn(),
  listPins: vi.fn(async () => []), createPin: vi.fn(), deletePin: vi.fn(), listDevices: vi.fn(async () => []),
  listSites: vi.fn(async () => []), startEvaluation: vi.fn(), uploadModel: vi.fn(), requestRetrain: vi.fn(),
  readTrainerConfig: vi.fn(async () => ({ threshold: 500, per_site_threshold: 0, backend: "reference", command: "",
    allowed_commands: [], webhook_url: "", webhook_secret_set: false, epochs: 20, auto_promote: false,
    promote_margin: 0.02, slice_tolerance: 0.05 })),
  updateTrainerConfig: vi.fn(),
  listTrainingRuns: vi.fn(async () => [{ id: 4, project: 1, dataset_version: 9, request: 3, backend: "reference",
    status: "failed", metrics: {}, model_version: null, error: "the trainer exited with code 1", log_tail: [],
    created_at: "2026-12-01T10:00:00Z",
    started_at: "2026-12-01T10:00:01Z", finished_at: "2026-12-01T10:02:00Z" }]),
  listDatasets: vi.fn(async () => [{ id: 9, project: 1, number: 2, parent: 8, request: 3, content_hash: "c".repeat(64),
    stats: { items: 120, boxes: 410, per_split: { train: 84, val: 18, test: 18 } }, created_at: "2026-12-01T10:00:00Z" }]),
}));

afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("models page", () => {
  it("compares candidate and champion per slice, better and worse marked", () => {
    const rows = comparisonRows({ candidate: { ...report(0.8, 0.5), slices: { site: { north: report(0.6, 1) } } },
                                  champion: { ...report(0.7, 0.25), slices: { site: { north: report(0.7, 1) } } } });
    expect(rows.map((r) => r.key)).toEqual(["all", "site:north"]);
    const [map50, , , , mae] = METRICS;
    expect(verdict(map50!, rows[0]!.candidate, rows[0]!.champion)).toBe(1);
    expect(verdict(mae!, rows[0]!.candidate, rows[0]!.champion)).toBe(-1); // a higher count error is worse
    expect(verdict(map50!, rows[1]!.candidate, rows[1]!.champion)).toBe(-1);
    expect(verdict(map50!, rows[0]!.candidate, null)).toBeNull();
  });

  it("lists versions, shows the evaluation table and promotes after confirmation", async () => {
    vi.stubGlobal("WebSocket", class { close() {} });
    vi.stubGlobal("confirm", () => true);
    const { ModelsView } = await import("../src/views/models/ModelsView");
    render(<ModelsView project={1} />);
    await waitFor(() => expect(screen.getByTestId("model-status-1").textContent).toBe("champion"));
    expect(screen.getByTestId("model-upload")).toBeTruthy();
    expect(await screen.findByTestId("trainer-form")).toBeTruthy(); // an admin's retraining settings
    await waitFor(() => expect(screen.getByTestId("training-run-4").textContent).toContain("exited with code 1"));
    expect(screen.getByTestId("dataset-versions").textContent).toContain("84 / 18 / 18");
    fireEvent.click(screen.getByTestId("model-eval-2"));
    await waitFor(() => expect(screen.getByTestId("eval-row-lighting:night").textContent).toContain("0.600"));
    expect(screen.getByTestId("eval-row-all").textContent).toContain("vs 0.700");
    expect(screen.getByTestId("evaluation").textContent).toContain("4 frames of dataset v2's test split");
    expect(screen.getByTestId("evaluation-too-few").textContent).toContain("Too few frames to compare (n=4");
    expect(screen.getByTestId("eval-row-all").querySelectorAll(".status-ok, .status-bad")).toHaveLength(0);
    fireEvent.click(screen.getByTestId("model-promote-2"));
    await waitFor(() => expect(promoteModel).toHaveBeenCalledWith(2, "champion"));
  });
});
