// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "./fakeSocket";

const XSS = "<img src=x onerror=alert(1)>";
const listItems = vi.fn(async (_project: number, query: { ordering?: string }) => [
  { id: 7, reason: "low_confidence", priority: 0.8, status: "submitted", site: { id: 1, name: "Main St" }, camera: null,
    agreement: query.ordering === "agreement" ? 0.25 : null, annotations_count: 1, required_overlap: 1, last_comment: "",
    created_at: "2026-12-01T10:00:00Z", updated_at: "2026-12-01T10:05:00Z",
    asset: { sha256: "a".repeat(64), kind: "frame", thumb_url: `/api/v1/assets/${"a".repeat(64)}/thumb.jpg` },
    latest: { version: 1, author: XSS, submitted_at: "2026-12-01T10:05:00Z", verdict: "correct" } },
]);
vi.mock("../src/api/endpoints", () => ({
  listItems: (project: number, query: { ordering?: string }) => listItems(project, query),
  listCameras: vi.fn(async () => [
    { id: 4, name: "door-1", site: { id: 1, name: "Main St", kind: "store" }, last_seen_at: null, open_flags: 2 },
  ]),
  listModels: vi.fn(async () => []),
  getTelemetrySummary: vi.fn(async () => ({ now: new Date().toISOString(), hours: 24, bucket_seconds: 3600, t: [], devices: [] })),
  listDevices: vi.fn(async () => [
    { id: 3, name: "pi-door", token_prefix: "ab12", site: { id: 1, name: "Main St", kind: "store" },
      cameras: [{ id: 4, name: "door-1" }], created_at: "2026-11-01T00:00:00Z", last_seen_at: new Date().toISOString(),
      software_version: "1.4.2", model_sha256: "f".repeat(64), revoked: false, revoked_at: null,
      health: { uptime_seconds: 10, disk_free_bytes: 12.5e9, temperature_c: 51.5, fps: 14.8, dropped_frames: 3,
                outbox_depth: 0 } },
  ]),
}));


beforeEach(() => { vi.stubGlobal("WebSocket", FakeSocket); listItems.mockClear(); });
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("pickers backed by the list endpoints", () => {
  it("QA lists items awaiting review, reorders, escapes names and refreshes on queue changes", async () => {
    const { ProjectLive } = await import("../src/realtime/ProjectLive");
    const { QaView } = await import("../src/views/qa/QaView");
    render(<ProjectLive project={1}><QaView project={1} item={null} /></ProjectLive>);
    await waitFor(() => expect(screen.getByTestId("qa-item-7").getAttribute("href")).toBe("#/projects/1/qa/7"));
    expect(screen.getByTestId("qa-list").textContent).toContain(`v1 by ${XSS}`);
    expect(document.querySelector("img[src='x']")).toBeNull();
    expect(listItems).toHaveBeenLastCalledWith(1, { status: "submitted", ordering: "-updated_at" });
    fireEvent.change(screen.getByTestId("qa-ordering"), { target: { value: "agreement" } });
    await waitFor(() => expect(screen.getByTestId("qa-list").textContent).toContain("25 %"));
    const calls = listItems.mock.calls.length;
    act(() => FakeSocket.last!.push({ type: "queue.stats", pending: 1, pending_by_reason: {}, pending_by_site: {},
                                      leased: 0, submitted: 2, accepted_today: 0 }));
    await waitFor(() => expect(listItems.mock.calls.length).toBe(calls + 1));
  });

  it("counts starts from the cameras the person may see", async () => {
    const { CountsView } = await import("../src/views/counts/CountsView");
    const { ProjectLive } = await import("../src/realtime/ProjectLive");
    render(<ProjectLive project={1}><CountsView project={1} camera={null} /></ProjectLive>);
    await waitFor(() => expect(screen.getByTestId("camera-4").getAttribute("href")).toBe("#/projects/1/counts/4"));
    expect(screen.getByTestId("camera-list").textContent).toContain("Main St");
  });

  it("devices show their last heartbeat's health", async () => {
    const { DevicesView } = await import("../src/views/devices/DevicesView");
    render(<DevicesView project={1} />);
    await waitFor(() => expect(screen.getByTestId("device-3").textContent).toContain("online"));
    const row = screen.getByTestId("device-3").textContent!;
    expect(row).toContain("1.4.2");
    expect(row).toContain("12.5 GB");
    expect(row).toContain("51.5 °C");
    expect(row).toContain("ffffffffffff");
  });
});
