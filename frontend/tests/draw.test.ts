import { describe, expect, it } from "vitest";
import { drawBase, drawOverlay } from "../src/editor/draw";
import { type EditorBox, editorReducer, initialState } from "../src/editor/state";

/** A 2D context that counts what the editor asks of it. */
function fakeContext() {
  const calls: Record<string, number> = {};
  const count = (name: string) => () => { calls[name] = (calls[name] ?? 0) + 1; };
  const ctx = {
    canvas: { width: 1000, height: 500 },
    setTransform: count("setTransform"), clearRect: count("clearRect"), drawImage: count("drawImage"),
    beginPath: count("beginPath"), rect: count("rect"), stroke: count("stroke"), setLineDash: count("setLineDash"),
    strokeRect: count("strokeRect"), fillRect: count("fillRect"), fillText: count("fillText"),
    measureText: () => ({ width: 40 }), strokeStyle: "", fillStyle: "", lineWidth: 1, font: "",
    imageSmoothingEnabled: true,
  };
  return { ctx: ctx as unknown as CanvasRenderingContext2D, calls };
}

const boxes: EditorBox[] = Array.from({ length: 500 }, (_, i) => ({
  id: i + 1, x: (i % 25) * 40, y: Math.floor(i / 25) * 25, w: 30, h: 20, label: i % 2 ? "person" : "bag",
  origin: i % 3 ? "model" : "person", accepted: i % 3 === 0, score: i % 5 ? 0.9 : 0.2, trackId: null,
}));

describe("drawing 500 boxes", () => {
  it("strokes one path per style, not one per box", () => {
    const state = editorReducer(initialState(["person", "bag"]),
                                { type: "load", image: { w: 1000, h: 500 }, boxes, labels: ["person", "bag"] });
    const { ctx, calls } = fakeContext();
    drawBase(ctx, state, null, 2, null);
    expect(calls.rect).toBe(500);
    expect(calls.stroke).toBeLessThanOrEqual(4); // pre-label, low-confidence pre-label, one per label
  });

  it("the overlay of a dragged box touches only that box", () => {
    let state = editorReducer(initialState(["person", "bag"]),
                              { type: "load", image: { w: 1000, h: 500 }, boxes, labels: ["person", "bag"] });
    state = { ...state, view: { scale: 1, tx: 0, ty: 0 } };
    state = [
      { type: "pointer_down", screen: { x: 15, y: 10 } }, { type: "pointer_move", screen: { x: 40, y: 30 } },
    ].reduce(editorReducer as never, state) as typeof state;
    expect(state.gesture.kind).toBe("moving");
    const { ctx, calls } = fakeContext();
    drawOverlay(ctx, state, 2);
    expect(calls.rect ?? 0).toBe(0);
    expect(calls.strokeRect).toBe(5); // the box and its four handles
  });
});

describe("captions and the image filter", () => {
  it("captions each box with its label on the canvas, but not past 150 boxes", () => {
    const few = boxes.slice(0, 12).map((b) => ({ ...b, w: 60 }));
    let state = editorReducer(initialState(["person", "bag"]),
                              { type: "load", image: { w: 1000, h: 500 }, boxes: few, labels: ["person", "bag"] });
    state = { ...state, view: { scale: 1, tx: 0, ty: 0 } };
    const { ctx, calls } = fakeContext();
    drawBase(ctx, state, null, 1, null);
    expect(calls.fillText).toBe(12);
    const crowd = editorReducer(initialState(["person", "bag"]),
                                { type: "load", image: { w: 1000, h: 500 }, boxes, labels: ["person", "bag"] });
    const many = fakeContext();
    drawBase(many.ctx, crowd, null, 1, null);
    expect(many.calls.fillText ?? 0).toBe(0);
  });

  it("brightens the image only: the filter is set for drawImage and cleared before the boxes", () => {
    let state = editorReducer(initialState(["person"]),
                              { type: "load", image: { w: 100, h: 50 }, boxes: [], labels: ["person"] });
    state = editorReducer(state, { type: "adjust_image", brightness: 1.25 });
    const filters: string[] = [];
    const { ctx } = fakeContext();
    const image = {} as CanvasImageSource;
    (ctx as unknown as { drawImage: () => void }).drawImage = () => filters.push(ctx.filter);
    drawBase(ctx, state, image, 1, null);
    expect(filters).toEqual(["brightness(1.25) contrast(1)"]);
    expect(ctx.filter).toBe("none");
  });
});
