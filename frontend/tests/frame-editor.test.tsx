// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ClaimedItem } from "../src/api/shapes";

vi.mock("../src/api/endpoints", () => ({
  heartbeat: vi.fn(async () => ({ lease_expires_at: new Date(Date.now() + 300_000).toISOString() })),
  // The server champion finds the first pre-label again (a duplicate) and one new person.
  listPrelabels: vi.fn(async () => [{ status: "done", model: { status: "champion" }, error: "", boxes: [
    { label: "person", score: 0.95, box: [11, 21, 30, 40] }, { label: "person", score: 0.9, box: [300, 200, 40, 80] },
  ] }]),
  runPrelabel: vi.fn(),
}));

afterEach(cleanup);

const image = { naturalWidth: 640, naturalHeight: 360 } as HTMLImageElement;

interface Sent { verdict: string; boxes?: { label: string; box: number[]; prelabel_index?: number }[] }
function submitted(fn: { mock: { calls: unknown[][] } }): Sent {
  return fn.mock.calls[fn.mock.calls.length - 1]![0] as Sent;
}

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

  it("opens with the pre-labels split at the threshold and warns how many suggestions will not be stored", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const onSubmit = vi.fn(async () => undefined);
    render(<FrameEditor item={{ ...item, prelabel_threshold: 0.5 }} image={image} labels={["person"]}
                        onSubmit={onSubmit} onSkip={async () => undefined} />);
    expect(screen.getByTestId("suggestions-warning").textContent).toContain("1 suggestion not accepted");
    expect(screen.getByTestId("box-list").textContent).toContain("(suggestion)");
    // The why-panel is below the work, collapsed.
    expect((screen.getByTestId("why-item") as HTMLDetailsElement).open).toBe(false);
    fireEvent.keyDown(document.body, { key: "s" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(submitted(onSubmit).boxes).toEqual([{ label: "person", box: [10, 20, 30, 40], prelabel_index: 0 }]);
    cleanup();
    const again = vi.fn(async () => undefined);
    render(<FrameEditor item={{ ...item, prelabel_threshold: 0.5 }} image={image} labels={["person"]}
                        onSubmit={again} onSkip={async () => undefined} />);
    fireEvent.keyDown(document.body, { key: "a" });
    await waitFor(() => expect(screen.queryByTestId("suggestions-warning")).toBeNull());
    fireEvent.keyDown(document.body, { key: "s" });
    await waitFor(() => expect(again).toHaveBeenCalledTimes(1));
    expect(submitted(again).boxes!.map((b) => b.prelabel_index)).toEqual([0, 1]);
  });

  it("'Model was right' sends no boxes; after a change it says so and lets the person choose", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const onSubmit = vi.fn(async () => undefined);
    render(<FrameEditor item={item} image={image} labels={["person"]} onSubmit={onSubmit} onSkip={async () => undefined} />);
    fireEvent.change(screen.getByTestId("verdict"), { target: { value: "confirm" } });
    fireEvent.keyDown(document.body, { key: "b" }); // a box of the person's own
    await waitFor(() => expect(screen.getByTestId("model-right-changed").textContent).toContain("not your changes"));
    fireEvent.click(screen.getByTestId("submit"));
    await screen.findByTestId("model-right-choice");
    expect(onSubmit).not.toHaveBeenCalled();
    fireEvent.click(screen.getByTestId("store-model-boxes"));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    const body = submitted(onSubmit);
    expect(body.verdict).toBe("confirm");
    expect(body.boxes).toBeUndefined(); // the server stores the model's boxes at or above the threshold
  });

  it("'My boxes' after 'Model was right' stores the person's boxes as a correction", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const onSubmit = vi.fn(async () => undefined);
    render(<FrameEditor item={item} image={image} labels={["person"]} onSubmit={onSubmit} onSkip={async () => undefined} />);
    fireEvent.change(screen.getByTestId("verdict"), { target: { value: "confirm" } });
    fireEvent.keyDown(document.body, { key: "b" });
    fireEvent.keyDown(document.body, { key: "s" });
    fireEvent.click(await screen.findByTestId("store-my-boxes"));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(submitted(onSubmit).verdict).toBe("correct");
    expect(submitted(onSubmit).boxes).toHaveLength(2); // the starting box and the new one
  });

  it("reworks from the rejected version with the reviewer's comment on top", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const onSubmit = vi.fn(async () => undefined);
    const rework = { version: 2, author: "alice", boxes: [{ label: "bag", box: [1, 2, 3, 4] }], count: null,
                     verdict: "correct", note: "", comment: "Box #2 is not a bag", region: { box: [1, 2, 3, 4], frame_index: null } };
    const { container } = render(<FrameEditor item={{ ...item, last_comment: "", rework }} image={image}
                                              labels={["person", "bag"]} onSubmit={onSubmit} onSkip={async () => undefined} />);
    const banner = screen.getByTestId("rework-banner");
    expect(banner.textContent).toContain("rejected version 2 by alice");
    expect(screen.getByTestId("last-comment").textContent).toContain("Reviewer: Box #2 is not a bag");
    // On top: the first thing in the side panel.
    expect(container.querySelector(".side-scroll")!.firstElementChild).toBe(banner);
    expect(screen.getByTestId("box-list").children).toHaveLength(1);
    fireEvent.keyDown(document.body, { key: "s" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(submitted(onSubmit).boxes).toEqual([{ label: "bag", box: [1, 2, 3, 4] }]);
  });

  it("skip asks why: k then Enter skips without a reason, a number picks one, Esc goes back", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    const onSkip = vi.fn<(reason: string) => Promise<void>>(async () => undefined);
    render(<FrameEditor item={item} image={image} labels={["person"]} onSubmit={async () => undefined} onSkip={onSkip} />);
    fireEvent.keyDown(document.body, { key: "k" });
    await screen.findByTestId("skip-dialog");
    fireEvent.keyDown(document.body, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("skip-dialog")).toBeNull());
    expect(onSkip).not.toHaveBeenCalled();
    fireEvent.keyDown(document.body, { key: "k" });
    await screen.findByTestId("skip-dialog");
    fireEvent.keyDown(document.body, { key: "3" });
    await waitFor(() => expect(onSkip).toHaveBeenCalledWith("Image problem"));
    fireEvent.keyDown(document.body, { key: "k" });
    await screen.findByTestId("skip-dialog");
    fireEvent.keyDown(document.body, { key: "Enter" });
    await waitFor(() => expect(onSkip).toHaveBeenLastCalledWith(""));
  });

  it("server model boxes merge with the boxes there and say how many were new", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    render(<FrameEditor item={item} image={image} labels={["person"]} onSubmit={async () => undefined}
                        onSkip={async () => undefined} />);
    fireEvent.click(screen.getByTestId("server-prelabels"));
    expect((await screen.findByTestId("server-boxes-result")).textContent)
      .toBe("Server model: 1 new box added, 1 already on the frame.");
    expect(screen.getByTestId("box-list").children).toHaveLength(3);
    fireEvent.click(screen.getByTestId("server-prelabels"));
    await waitFor(() => expect(screen.getByTestId("server-boxes-result").textContent)
      .toBe("Server model: 0 new boxes added, 2 already on the frame."));
    expect(screen.getByTestId("box-list").children).toHaveLength(3);
  });

  it("brightens the image layer by key and shows it", async () => {
    const { FrameEditor } = await import("../src/views/editor/FrameEditor");
    render(<FrameEditor item={item} image={image} labels={["person"]} onSubmit={async () => undefined}
                        onSkip={async () => undefined} />);
    fireEvent.keyDown(document.body, { key: "]" });
    await waitFor(() => expect(screen.getByTestId("brightness").textContent).toBe("125%"));
    fireEvent.keyDown(document.body, { key: "}" });
    await waitFor(() => expect(screen.getByTestId("contrast").textContent).toBe("125%"));
    fireEvent.keyDown(document.body, { key: "\\" });
    await waitFor(() => expect(screen.getByTestId("brightness").textContent).toBe("100%"));
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
