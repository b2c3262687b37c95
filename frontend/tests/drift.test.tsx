// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { alertingFirst, shares, summaryText } from "../src/views/drift/DriftView";
import { FakeSocket } from "./fakeSocket";

const policy = { enabled: true, psi_threshold: 0.2, correction_rate_threshold: 0.5, count_error_threshold: 2,
  min_boxes: 200, min_reviews: 20, min_flags: 3, current_window_hours: 24, reference_window_days: 7,
  updated_by: null, updated_at: "2026-12-01T10:00:00Z" };
const camera = (id: number, name: string, extra: object = {}) => ({
  camera: id, camera_name: name, site: 1, site_name: "Main St", computed_at: "2026-12-01T10:00:00Z",
  psi: 0.01, correction_rate: 0.1, count_error: null, boxes_reference: 840, boxes_current: 120, reviews: 25,
  corrections: 3, flags: 0, histogram_reference: [0, 0, 0, 0, 0, 0, 0, 0, 336, 504],
  histogram_current: [0, 0, 0, 48, 24, 48, 0, 0, 0, 0], alerting: [], last_alert_at: null,
  status: "partial" as const, unknown_metrics: ["count_error" as const], ...extra });
const summary = (extra: object = {}) => ({ cameras: 2, alerting: 0, ok: 0, partial: 2, not_enough_data: 0,
  not_computed: 0, ...extra });

let overview = { bins: 10, policy, cameras: [camera(1, "door-1"), camera(2, "till-2")], summary: summary() };
const readDrift = vi.fn(async () => overview);
const updateDriftPolicy = vi.fn(async (_p: number, body: object) => ({ ...policy, ...body }));
const computeDrift = vi.fn(async () => overview);
vi.mock("../src/api/endpoints", () => ({
  readDrift: () => readDrift(),
  readProject: vi.fn(async () => ({ id: 1, role: "admin", label_classes: ["person"] })),
  updateDriftPolicy: (p: number, body: object) => updateDriftPolicy(p, body),
  computeDrift: () => computeDrift(),
}));

beforeEach(() => vi.stubGlobal("WebSocket", FakeSocket));
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("drift page", () => {
  it("compares windows by share and lists alerting cameras first", () => {
    expect(shares([1, 3])).toEqual([0.25, 0.75]);
    expect(shares([0, 0])).toEqual([0, 0]);
    const quiet = camera(1, "a");
    const loud = camera(2, "b", { alerting: [{ metric: "psi", since: "2026-12-01T09:00:00Z" }] });
    expect(alertingFirst([quiet, loud]).map((c) => c.camera)).toEqual([2, 1]);
  });

  it("shows each camera against the thresholds and follows drift.alert pushes", async () => {
    const { ProjectLive } = await import("../src/realtime/ProjectLive");
    const { DriftView } = await import("../src/views/drift/DriftView");
    render(<ProjectLive project={1}><DriftView project={1} /></ProjectLive>);
    await waitFor(() => expect(screen.getByTestId("drift-summary").textContent).toBe("No camera is drifting."));
    expect(screen.getByTestId("drift-psi-1").textContent).toBe("0.010 / 0.200");
    expect(screen.getByTestId("drift-correction_rate-1").textContent).toBe("10 % / 50 %");
    expect(screen.getByTestId("drift-count_error-1").textContent).toContain("—");
    expect(screen.getByTestId("drift-status-1").textContent).toBe("OK so far · not enough data for Count error");
    expect(screen.getByTestId("drift-histogram-1").textContent).toContain("60.0 %"); // 504 of 840 in 0.9–1.0

    overview = { ...overview, cameras: [camera(1, "door-1"), camera(2, "till-2", {
      psi: 4.2, alerting: [{ metric: "psi", since: "2026-12-01T11:00:00Z" }], last_alert_at: "2026-12-01T11:00:00Z",
      status: "alerting" })], summary: summary({ alerting: 1, partial: 1 }) };
    const loads = readDrift.mock.calls.length;
    act(() => FakeSocket.last!.push({ type: "drift.alert", camera: 2, camera_name: "till-2", site: 1, site_name: "Main St",
                                      metrics: ["psi"], alerting: ["psi"], values: { psi: 4.2 } }));
    await waitFor(() => expect(screen.getByTestId("drift-status-2").textContent).toContain("Confidence PSI alert"));
    expect(readDrift.mock.calls.length).toBe(loads + 1);
    expect(screen.getByTestId("drift-announcement").textContent).toBe("Drift alert on Main St / till-2: Confidence PSI.");
    expect(screen.getByTestId("drift-psi-2").className).toBe("status-bad");
    const rows = screen.getByTestId("drift-table").querySelectorAll("tbody > tr");
    expect(rows[0]!.getAttribute("data-testid")).toBe("drift-row-2"); // the alerting camera comes first
  });

  it("says not enough data, never OK, when every metric is unknown", async () => {
    const unknown = { psi: null, correction_rate: null, count_error: null, status: "not_enough_data",
      unknown_metrics: ["psi", "correction_rate", "count_error"] };
    overview = { ...overview, cameras: [camera(1, "door-1", unknown), camera(2, "till-2", unknown)],
      summary: summary({ partial: 0, not_enough_data: 2 }) };
    const { DriftView } = await import("../src/views/drift/DriftView");
    render(<DriftView project={1} />);
    await waitFor(() => expect(screen.getByTestId("drift-summary").textContent)
      .toBe("Not enough data: no camera has enough samples yet to tell whether it drifts."));
    expect(screen.getByTestId("drift-status-1").textContent).toBe("Not enough data");
    expect(screen.getByTestId("drift-status-2").textContent).not.toContain("OK");
  });

  it("counts unknown cameras apart in the summary", () => {
    expect(summaryText(summary({ cameras: 3, ok: 1, partial: 0, not_enough_data: 1, not_computed: 1 })))
      .toBe("No drift on the 1 of 3 cameras measured; 2 cameras have not enough data to tell.");
    expect(summaryText(summary({ cameras: 3, alerting: 1, partial: 1, not_enough_data: 1 })))
      .toBe("1 of 3 cameras alerting. 1 camera has not enough data to tell.");
    expect(summaryText(summary({ ok: 2, partial: 0 }))).toBe("No camera is drifting.");
  });

  it("lets an admin change the policy with labelled fields", async () => {
    const { DriftView } = await import("../src/views/drift/DriftView");
    render(<DriftView project={1} />);
    const field = await screen.findByLabelText("PSI threshold");
    fireEvent.input(field, { target: { value: "0.3" } });
    fireEvent.click(screen.getByTestId("drift-policy-enabled"));
    fireEvent.click(screen.getByTestId("drift-policy-save"));
    await waitFor(() => expect(updateDriftPolicy).toHaveBeenCalled());
    expect(updateDriftPolicy.mock.calls[0]![1]).toMatchObject({ psi_threshold: 0.3, enabled: false, min_boxes: 200 });
    await waitFor(() => expect(screen.getByText("Saved.")).toBeTruthy());
  });
});
