// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ClaimedItem } from "../src/api/shapes";

vi.mock("../src/api/endpoints", () => ({
  heartbeat: vi.fn(async () => ({ lease_expires_at: new Date(Date.now() + 300_000).toISOString() })),
}));

afterEach(cleanup);

const item: ClaimedItem = {
  id: 9, project: 1, reason: "low_confidence", priority: 0.7, score_parts: { margin: 0.1, signals: { blur: 3 } },
  status: "leased", site: 1, camera: 2, lease_token: "tok", lease_expires_at: new Date(Date.now() + 300_000).toISOString(),
  last_comment: "Missed the child on the left",
  last_comment_region: { box: [10, 20, 30, 40], frame_index: null },
  asset: { sha256: "a".repeat(64), kind: "frame", content_type: "image/jpeg", width: 640, height: 360, fps: null,
           frame_count: null, url: "/x" },
  prelabel: { prediction: 1, model: { name: "det", version: "3" }, frame_index: 0, count: null,
              captured_at: "2026-01-01T00:00:00Z",
              boxes: [{ label: "person", score: 0.9, box: [10, 20, 30, 40], track_id: 1 },
                      { label: "person", score: 0.3, box: [100, 20, 30, 40], track_id: 2 }] },
};

describe("the box editor, by keyboard", () => {
  it("accepts pre-labels, adds a box, relabels it and submits boxes in image pixels", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const onSubmit = vi.fn(async () => undefined);
    const image = { naturalWidth: 640, naturalHeight: 360 } as HTMLImageElement;
    render(<FrameEditor item={item} image={image} labels={["person", "bag"]} onSubmit={onSubmit}
                        onSkip={async () => undefined} />);
    expect(screen.getByTestId("last-comment").textContent).toContain("Missed the child");
    expect(screen.getByTestId("score-parts").textContent).toContain("blur 3.00");
    expect(screen.getByTestId("lease-countdown").textContent).toMatch(/Lease: [45]:\d\d/);
    const canvas = screen.getByTestId("editor-canvas");
    fireEvent.keyDown(canvas, { key: "a" });
    fireEvent.keyDown(canvas, { key: "b" });
    fireEvent.keyDown(canvas, { key: "2" });
    await waitFor(() => expect(screen.getByTestId("box-list").textContent).toContain("bag"));
    fireEvent.keyDown(canvas, { key: "s" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    const body = (onSubmit.mock.calls[0] as unknown as [{ boxes: { label: string; box: number[] }[]; lease_token: string }])[0];
    expect(body.lease_token).toBe("tok");
    expect(body.boxes.map((b) => b.label)).toEqual(["person", "person", "bag"]);
    expect(body.boxes[0]!.box).toEqual([10, 20, 30, 40]);
  });

  it("lists every shortcut in the help overlay from the command table", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const { COMMANDS } = await import("../src/editor/commands");
    render(<FrameEditor item={item} image={{ naturalWidth: 640, naturalHeight: 360 } as HTMLImageElement}
                        labels={["person"]} onSubmit={async () => undefined} onSkip={async () => undefined} />);
    fireEvent.keyDown(screen.getByTestId("editor-canvas"), { key: "?" });
    const help = await screen.findByTestId("help-overlay");
    for (const c of COMMANDS) expect(help.textContent).toContain(c.label);
    fireEvent.keyDown(document.body, { key: "b" }); // modal: ignored while the help is open
    fireEvent.keyDown(document.body, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("help-overlay")).toBeNull());
    expect(screen.getByTestId("box-list").children).toHaveLength(2);
    fireEvent.keyDown(document.body, { key: "b" }); // shortcuts work wherever the focus is
    await waitFor(() => expect(screen.getByTestId("box-list").children).toHaveLength(3));
  });
});
