// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "./fakeSocket";
import { ApiError } from "../src/api/errors";
import type { ClaimedItem } from "../src/api/shapes";

vi.mock("../src/api/endpoints", () => ({
  readProject: vi.fn(async () => ({
    id: 1, slug: "p", name: "Store", description: "", label_classes: ["person"], role: "annotator", qa_sample_rate: 0,
    consensus_overlap: 1,
    stats: { pending: 3, pending_by_reason: { ood: 3 }, pending_by_site: {}, leased: 0, submitted: 0, accepted_today: 0,
             throughput_24h: {}, median_seconds_per_item: null, agreement: null, correction_rate: null, accepted: 0,
             retrain_threshold: 10, threshold_progress: 0 },
  })),
  heartbeat: vi.fn(async () => ({ lease_expires_at: new Date(Date.now() + 300_000).toISOString() })),
}));


beforeEach(() => vi.stubGlobal("WebSocket", FakeSocket));
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("live project views", () => {
  it("the dashboard follows queue.stats and lists item events, and flags pop up live", async () => {
    const { ProjectLive, ConnectionBadge } = await import("../src/realtime/ProjectLive");
    const { DashboardView } = await import("../src/views/queue/DashboardView");
    const { FlagToasts } = await import("../src/views/FlagToasts");
    render(<ProjectLive project={1}><ConnectionBadge /><FlagToasts project={1} /><DashboardView project={1} /></ProjectLive>);
    await waitFor(() => expect(screen.getByTestId("stat-pending").textContent).toBe("3"));
    const ws = FakeSocket.last!;
    expect(ws.url).toMatch(/\/ws\/projects\/1\/$/);
    act(() => {
      ws.onopen?.();
      ws.push({ type: "queue.stats", pending: 7, pending_by_reason: { ood: 5, disputed: 2 }, pending_by_site: { "Main St": 7 },
                leased: 2, submitted: 1, accepted_today: 4 });
      ws.push({ type: "item.leased", item: 42, user: 3, status: "leased" });
      ws.push({ type: "flag.created", flag: 9, camera: 4, observed_count: 12, model_count: 8 });
    });
    await waitFor(() => expect(screen.getByTestId("stat-pending").textContent).toBe("7"));
    expect(screen.getByTestId("ws-status").textContent).toBe("Live");
    expect(screen.getByTestId("pending-by-site").textContent).toContain("Main St");
    expect(screen.getByTestId("live-feed").textContent).toContain("Item 42 leased");
    expect(screen.getByTestId("flag-toast").textContent).toContain("observed 12, model 8");
  });

  it("the editor says so when the lease is lost and refuses to submit", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const item = {
      id: 3, project: 1, reason: "ood", priority: 1, score_parts: {}, status: "leased", site: null, camera: null,
      lease_token: "t", lease_expires_at: new Date(Date.now() + 60_000).toISOString(), last_comment: "", last_comment_region: null,
      asset: { sha256: "b".repeat(64), kind: "frame", content_type: "image/jpeg", width: 100, height: 100, fps: null,
               frame_count: null, url: "" },
      prelabel: null,
    } satisfies ClaimedItem;
    const onSubmit = vi.fn(async () => { throw new ApiError(409, "lease_lost", "Lost."); });
    render(<FrameEditor item={item} image={{} as HTMLImageElement} labels={["person"]} onSubmit={onSubmit}
                        onSkip={async () => undefined} />);
    fireEvent.click(screen.getByTestId("submit"));
    await screen.findByTestId("lease-lost");
    expect((screen.getByTestId("submit") as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId("skip") as HTMLButtonElement).disabled).toBe(false);
  });
});
