import { describe, expect, it } from "vitest";
import { imageToScreen, screenToImage } from "../src/editor/geometry";
import {
  type EditorAction, type EditorBox, type EditorState, boxesFromDetections, boxesFromVersion, editorReducer,
  initialState, newBoxes, submittedBoxes, suggestionsLeft,
} from "../src/editor/state";
import { iou } from "../src/editor/agreement";

const LABELS = ["person", "bag"];

function run(state: EditorState, ...actions: EditorAction[]): EditorState {
  return actions.reduce(editorReducer, state);
}

/** A 1000×500 image in a 1000×500 viewport at scale 1 (fit gives 0.98; we set the view explicitly). */
function loaded(boxes: EditorBox[] = []): EditorState {
  const s = run(initialState(LABELS), { type: "viewport", w: 1000, h: 500 },
                { type: "load", image: { w: 1000, h: 500 }, boxes, labels: LABELS });
  return { ...s, view: { scale: 1, tx: 0, ty: 0 } };
}

function box(id: number, x: number, y: number, w: number, h: number, extra: Partial<EditorBox> = {}): EditorBox {
  return { id, x, y, w, h, label: "person", origin: "person", accepted: true, score: null, trackId: null, ...extra };
}

const drag = (from: [number, number], to: [number, number], steps = 5): EditorAction[] => {
  const actions: EditorAction[] = [{ type: "pointer_down", screen: { x: from[0], y: from[1] } }];
  for (let i = 1; i <= steps; i++) {
    const t = i / steps;
    actions.push({ type: "pointer_move",
                   screen: { x: from[0] + (to[0] - from[0]) * t, y: from[1] + (to[1] - from[1]) * t } });
  }
  return actions;
};

describe("drawing", () => {
  it("draws a box in image pixels with the active label and selects it", () => {
    const s = run(loaded(), ...drag([100, 100], [200, 150]), { type: "pointer_up" });
    expect(s.boxes).toHaveLength(1);
    expect(s.boxes[0]).toMatchObject({ x: 100, y: 100, w: 100, h: 50, label: "person", origin: "person" });
    expect(s.selectedId).toBe(s.boxes[0]!.id);
    expect(s.gesture.kind).toBe("idle");
  });

  it("goes idle → pointing → drawing, and a click without movement draws nothing", () => {
    let s = run(loaded(), { type: "pointer_down", screen: { x: 10, y: 10 } });
    expect(s.gesture.kind).toBe("pointing");
    s = run(s, { type: "pointer_move", screen: { x: 11, y: 11 } });
    expect(s.gesture.kind).toBe("pointing");
    s = run(s, { type: "pointer_up" });
    expect(s.boxes).toHaveLength(0);
    s = run(s, ...drag([10, 10], [60, 60]));
    expect(s.gesture.kind).toBe("drawing");
  });

  it("clips a drawn box to the image", () => {
    const s = run(loaded(), ...drag([900, 400], [1200, 800]), { type: "pointer_up" });
    expect(s.boxes[0]).toMatchObject({ x: 900, y: 400, w: 100, h: 100 });
  });

  it("uses the class picked by number key", () => {
    const s = run(loaded(), { type: "set_label", index: 1 }, ...drag([0, 0], [50, 50]), { type: "pointer_up" });
    expect(s.boxes[0]!.label).toBe("bag");
  });
});

describe("coordinates under zoom and pan", () => {
  it("stores boxes in image pixels whatever the zoom and pan", () => {
    let s = loaded();
    s = run(s, { type: "zoom", factor: 2, anchor: { x: 0, y: 0 } }, { type: "pan_by", dx: -100, dy: -40 });
    expect(s.view).toEqual({ scale: 2, tx: -100, ty: -40 });
    // Screen (100, 40) is image (100, 40); screen (300, 140) is image (200, 90).
    s = run(s, ...drag([100, 40], [300, 140]), { type: "pointer_up" });
    expect(s.boxes[0]).toMatchObject({ x: 100, y: 40, w: 100, h: 50 });
  });

  it("maps screen to image and back exactly, and zoom keeps the anchor still", () => {
    const s = run(loaded(), { type: "zoom", factor: 3.7, anchor: { x: 321, y: 123 } });
    const anchorImage = screenToImage({ scale: 1, tx: 0, ty: 0 }, { x: 321, y: 123 });
    const back = imageToScreen(s.view, anchorImage);
    expect(back.x).toBeCloseTo(321, 9);
    expect(back.y).toBeCloseTo(123, 9);
    const p = { x: 17.25, y: 401.5 };
    const round = screenToImage(s.view, imageToScreen(s.view, p));
    expect(round.x).toBeCloseTo(p.x, 9);
    expect(round.y).toBeCloseTo(p.y, 9);
  });

  it("fits the image into the viewport on load", () => {
    const s = run(initialState(LABELS), { type: "viewport", w: 500, h: 500 },
                  { type: "load", image: { w: 1000, h: 500 }, boxes: [], labels: LABELS });
    expect(s.view.scale).toBeCloseTo(0.49);
    expect(s.view.ty).toBeCloseTo((500 - 500 * 0.49) / 2);
  });
});

describe("move and resize", () => {
  it("moves a box by dragging its body", () => {
    const s = run(loaded([box(1, 100, 100, 50, 50)]), ...drag([120, 120], [170, 140]), { type: "pointer_up" });
    expect(s.boxes[0]).toMatchObject({ x: 150, y: 120, w: 50, h: 50 });
  });

  it("resizes from a corner, keeping the opposite corner", () => {
    const s = run(loaded([box(1, 100, 100, 50, 50)]), ...drag([150, 150], [200, 180]), { type: "pointer_up" });
    expect(s.boxes[0]).toMatchObject({ x: 100, y: 100, w: 100, h: 80 });
  });

  it("editing a suggestion accepts it; an untouched suggestion is not submitted", () => {
    const pre = boxesFromDetections([
      { label: "person", score: 0.3, box: [100, 100, 50, 50] },
      { label: "person", score: 0.3, box: [400, 100, 50, 50] },
    ]);
    const s = run(loaded(pre), ...drag([120, 120], [130, 130]), { type: "pointer_up" });
    expect(submittedBoxes(s)).toEqual([{ label: "person", box: [110, 110, 50, 50], prelabel_index: 0 }]);
    const all = run(s, { type: "accept_all" });
    expect(submittedBoxes(all)).toHaveLength(2);
  });

  it("moves and resizes with the keyboard", () => {
    const s = run(loaded([box(1, 100, 100, 50, 50)]), { type: "select", id: 1 },
                  { type: "nudge", dx: 10, dy: -1, resize: false }, { type: "nudge", dx: 5, dy: 5, resize: true });
    expect(s.boxes[0]).toMatchObject({ x: 110, y: 99, w: 55, h: 55 });
  });

  it("adds a box with the keyboard in the middle of the view", () => {
    const s = run(loaded(), { type: "add_box" });
    expect(s.boxes[0]).toMatchObject({ x: 450, y: 200, w: 100, h: 100, origin: "person" });
  });
});

describe("selection and delete", () => {
  it("cycles through visible boxes and deletes the selected one", () => {
    let s = loaded([box(1, 0, 0, 10, 10), box(2, 20, 0, 10, 10), box(3, 40, 0, 10, 10)]);
    s = run(s, { type: "select_next" });
    expect(s.selectedId).toBe(1);
    s = run(s, { type: "select_prev" });
    expect(s.selectedId).toBe(3);
    s = run(s, { type: "delete_selected" });
    expect(s.boxes.map((b) => b.id)).toEqual([1, 2]);
    expect(s.selectedId).toBeNull();
  });

  it("hidden pre-labels are skipped by selection and hit testing", () => {
    const pre = boxesFromDetections([{ label: "person", score: 0.2, box: [100, 100, 50, 50] }]);
    let s = run(loaded([...pre, box(9, 300, 300, 20, 20)]), { type: "toggle_prelabels" });
    s = run(s, { type: "select_next" });
    expect(s.selectedId).toBe(9);
    s = run(s, { type: "pointer_down", screen: { x: 120, y: 120 } }, { type: "pointer_up" });
    expect(s.selectedId).toBeNull();
  });
});

describe("undo/redo", () => {
  it("undoes a whole drag in one step and redoes it", () => {
    const start = loaded([box(1, 100, 100, 50, 50)]);
    const moved = run(start, ...drag([120, 120], [320, 220], 20), { type: "pointer_up" });
    expect(moved.past).toHaveLength(1);
    const undone = run(moved, { type: "undo" });
    expect(undone.boxes[0]).toMatchObject({ x: 100, y: 100 });
    const redone = run(undone, { type: "redo" });
    expect(redone.boxes[0]).toMatchObject({ x: 300, y: 200 });
  });

  it("a new edit clears the redo stack", () => {
    let s = run(loaded(), ...drag([0, 0], [50, 50]), { type: "pointer_up" }, { type: "undo" });
    expect(s.future).toHaveLength(1);
    s = run(s, { type: "add_box" });
    expect(s.future).toHaveLength(0);
  });

  it("selection and view changes are not undo steps", () => {
    const s = run(loaded([box(1, 0, 0, 10, 10)]), { type: "select_next" }, { type: "zoom", factor: 2 },
                  { type: "pointer_down", screen: { x: 500, y: 400 }, pan: true },
                  { type: "pointer_move", screen: { x: 520, y: 420 } }, { type: "pointer_up" });
    expect(s.past).toHaveLength(0);
  });
});

describe("Esc rolls back the gesture", () => {
  it("restores a box mid-drag and leaves no undo step", () => {
    const start = loaded([box(1, 100, 100, 50, 50)]);
    const s = run(start, ...drag([120, 120], [320, 220]), { type: "cancel" });
    expect(s.gesture.kind).toBe("idle");
    expect(s.boxes[0]).toMatchObject({ x: 100, y: 100, w: 50, h: 50 });
    expect(s.past).toHaveLength(0);
    // The release after Esc does nothing.
    expect(run(s, { type: "pointer_up" }).boxes).toBe(s.boxes);
  });

  it("drops a box being drawn and restores a pan", () => {
    const drawing = run(loaded(), ...drag([0, 0], [80, 80]), { type: "cancel" });
    expect(drawing.boxes).toHaveLength(0);
    const panned = run(loaded(), { type: "pointer_down", screen: { x: 0, y: 0 }, pan: true },
                       { type: "pointer_move", screen: { x: 50, y: 50 } }, { type: "cancel" });
    expect(panned.view).toEqual({ scale: 1, tx: 0, ty: 0 });
  });
});

describe("server model boxes", () => {
  it("are added with fresh ids by the threshold rule, without a pre-label index, and undo removes them in one step", () => {
    const start = loaded([box(1, 10, 10, 20, 20, { origin: "person", accepted: true })]);
    const added = run(start, { type: "add_prelabels", boxes: boxesFromDetections([
      { label: "person", score: 0.9, box: [50, 50, 30, 60] }, { label: "person", score: 0.3, box: [5, 5, 10, 10] }],
      0.5, { indexed: false }) });
    expect(added.boxes.map((b) => b.id)).toEqual([1, 2, 3]);
    expect(added.boxes.slice(1).map((b) => [b.origin, b.accepted])).toEqual([["model", true], ["model", false]]);
    expect(submittedBoxes(added)).toEqual([{ label: "person", box: [10, 10, 20, 20] },
                                           { label: "person", box: [50, 50, 30, 60] }]);
    expect(submittedBoxes(run(added, { type: "accept_all" }))).toHaveLength(3);
    expect(run(added, { type: "undo" }).boxes).toHaveLength(1);
  });

  it("merge with the boxes on the frame: the same label at IoU ≥ 0.5 is not added again", () => {
    const onFrame = [box(1, 100, 100, 50, 100), box(2, 300, 100, 50, 100, { label: "bag" })];
    const server = boxesFromDetections([
      { label: "person", score: 0.9, box: [104, 102, 50, 100] }, // the same person, a little off
      { label: "person", score: 0.9, box: [300, 100, 50, 100] }, // where the bag is: another class, kept
      { label: "person", score: 0.8, box: [600, 100, 50, 100] }, // new
      { label: "person", score: 0.7, box: [602, 101, 50, 100] }, // a duplicate within the server's own answer
    ], 0.5, { indexed: false });
    const fresh = newBoxes(onFrame, server);
    expect(fresh.map((b) => b.x)).toEqual([300, 600]);
    const twice = run(loaded(onFrame), { type: "add_prelabels", boxes: fresh });
    expect(newBoxes(twice.boxes, server)).toEqual([]); // asking again adds nothing
    expect(iou(box(1, 0, 0, 10, 10), box(2, 5, 0, 10, 10))).toBeCloseTo(1 / 3);
    expect(iou(box(1, 0, 0, 10, 10), box(2, 20, 0, 10, 10))).toBe(0);
  });
});

describe("pre-labels are the starting answer (DESIGN.md Review)", () => {
  const eleven = Array.from({ length: 11 }, (_, i) => ({ label: "person", score: 0.6 + i * 0.03,
                                                        box: [i * 80, 100, 40, 90] }));

  it("splits the pre-label at the threshold: at or above accepted, below a suggestion", () => {
    const boxes = boxesFromDetections([
      { label: "person", score: 0.5, box: [0, 0, 10, 10] }, { label: "person", score: 0.49, box: [20, 0, 10, 10] },
      { label: "bag", score: 0.95, box: [40, 0, 10, 10], track_id: 7 }], 0.5);
    expect(boxes.map((b) => [b.accepted, b.prelabelIndex, b.origin])).toEqual(
      [[true, 0, "model"], [false, 1, "model"], [true, 2, "model"]]);
    expect(boxes[2]!.trackId).toBe(7);
    expect(boxesFromDetections([{ label: "person", score: 0.6, box: [0, 0, 1, 1] }], 0.8)[0]!.accepted).toBe(false);
  });

  it("submits every untouched starting box with its pre-label index (11 of 11)", () => {
    const s = loaded(boxesFromDetections(eleven, 0.5));
    expect(suggestionsLeft(s)).toBe(0);
    const sent = submittedBoxes(s);
    expect(sent).toHaveLength(11);
    expect(sent.map((b) => b.prelabel_index)).toEqual([...Array(11).keys()]);
    expect(sent[3]).toEqual({ label: "person", box: [240, 100, 40, 90], prelabel_index: 3 });
  });

  it("nudging one of eleven still submits eleven, the moved one with its index", () => {
    const s = run(loaded(boxesFromDetections(eleven, 0.5)), { type: "select", id: 5 },
                  { type: "nudge", dx: 10, dy: 0, resize: false });
    const sent = submittedBoxes(s);
    expect(sent).toHaveLength(11);
    expect(sent[4]).toEqual({ label: "person", box: [330, 100, 40, 90], prelabel_index: 4 });
  });

  it("a deleted starting box is not submitted; a drawn box carries no index", () => {
    const s = run(loaded(boxesFromDetections(eleven.slice(0, 2), 0.5)), { type: "select", id: 1 },
                  { type: "delete_selected" }, ...drag([500, 300], [560, 380]), { type: "pointer_up" });
    expect(submittedBoxes(s)).toEqual([{ label: "person", box: [80, 100, 40, 90], prelabel_index: 1 },
                                       { label: "person", box: [500, 300, 60, 80] }]);
  });

  it("counts suggestions left, and accept-all stores them with their indexes", () => {
    const pre = boxesFromDetections([
      { label: "person", score: 0.9, box: [0, 0, 10, 10] }, { label: "person", score: 0.3, box: [20, 0, 10, 10] },
      { label: "person", score: 0.2, box: [40, 0, 10, 10] }, { label: "bag", score: 0.1, box: [60, 0, 10, 10] }], 0.5);
    const s = loaded(pre);
    expect(suggestionsLeft(s)).toBe(3);
    expect(submittedBoxes(s).map((b) => b.prelabel_index)).toEqual([0]);
    const hidden = run(s, { type: "toggle_prelabels" });
    expect(suggestionsLeft(hidden)).toBe(3); // hidden suggestions still are not stored: still counted
    const all = run(s, { type: "accept_all" });
    expect(suggestionsLeft(all)).toBe(0);
    expect(submittedBoxes(all).map((b) => b.prelabel_index)).toEqual([0, 1, 2, 3]);
    expect(run(all, { type: "undo" }).boxes).toEqual(s.boxes); // one undo step
  });

  it("rework starts from the rejected version's boxes: all the person's, no indexes", () => {
    const boxes = boxesFromVersion([{ label: "bag", box: [10, 20, 30, 40] }, { label: "person", box: [1, 2, 3, 4] }]);
    const s = loaded(boxes);
    expect(suggestionsLeft(s)).toBe(0);
    expect(s.boxes.every((b) => b.origin === "person" && b.accepted)).toBe(true);
    expect(submittedBoxes(s)).toEqual([{ label: "bag", box: [10, 20, 30, 40] }, { label: "person", box: [1, 2, 3, 4] }]);
  });
});

describe("image brightness and contrast", () => {
  it("multiplies within bounds, survives the next frame, and resets", () => {
    let s = run(loaded(), { type: "adjust_image", brightness: 1.25 }, { type: "adjust_image", brightness: 1.25 },
                { type: "adjust_image", contrast: 0.8 });
    expect(s.imageFilter).toEqual({ brightness: 1.56, contrast: 0.8 });
    for (let i = 0; i < 20; i++) s = run(s, { type: "adjust_image", brightness: 1.25 });
    expect(s.imageFilter.brightness).toBe(5);
    s = run(s, { type: "load", image: { w: 10, h: 10 }, boxes: [], labels: LABELS, keepView: true });
    expect(s.imageFilter.brightness).toBe(5);
    expect(run(s, { type: "reset_image" }).imageFilter).toEqual({ brightness: 1, contrast: 1 });
  });
});
