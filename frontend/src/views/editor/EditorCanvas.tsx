/**
 * The two canvas layers of the editor. Pointer input becomes reducer actions in screen (CSS) pixels; the
 * reducer turns them into image pixels. The base layer is redrawn only when the image, the view or the
 * boxes not being edited change, so dragging one box among 500 redraws the overlay alone.
 */

import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import { drawBase, drawOverlay, fitCanvas } from "../../editor/draw";
import type { EditorAction, EditorState } from "../../editor/state";
import { markBaseDraw, markRedraw } from "../../perf";

interface Props {
  state: EditorState;
  dispatch: (action: EditorAction) => void;
  image: CanvasImageSource | null;
  label: string;
  testId?: string;
  /** Hold Space to pan (the clip reviewer uses Space for play/pause instead). */
  spacePans?: boolean;
  onKeyDown?: (event: KeyboardEvent) => void;
  /** Extra drawing on the overlay (e.g. the clip's counting line), after the editor's own. */
  decorate?: (ctx: CanvasRenderingContext2D, state: EditorState, dpr: number) => void;
}

function editedId(state: EditorState): number | null {
  const g = state.gesture;
  return g.kind === "moving" || g.kind === "resizing" ? g.id : state.selectedId;
}

export function EditorCanvas({ state, dispatch, image, label, testId = "editor-canvas", spacePans = true, onKeyDown, decorate }: Props) {
  const wrap = useRef<HTMLDivElement>(null);
  const base = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const spaceDown = useRef(false);
  const lastBase = useRef<unknown[]>([]);

  useEffect(() => {
    const el = wrap.current!;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) dispatch({ type: "viewport", w: entry.contentRect.width, h: entry.contentRect.height });
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [dispatch]);

  useLayoutEffect(() => {
    const started = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const { w, h } = state.viewport;
    const b = base.current!;
    const o = overlay.current!;
    const baseResized = fitCanvas(b, w, h, dpr);
    const resized = fitCanvas(o, w, h, dpr) || baseResized;
    const skip = editedId(state);
    // While a box is edited the others are those of the gesture's mark: unchanged, so no base redraw.
    const g = state.gesture;
    const others = g.kind === "moving" || g.kind === "resizing" ? g.mark.boxes : state.boxes;
    const key = [image, state.view, state.showPrelabels, skip, others, state.image, state.imageFilter, dpr];
    const baseCtx = b.getContext("2d");
    const ctx = o.getContext("2d");
    if (!baseCtx || !ctx) return; // no 2D canvas (a DOM without one, e.g. tests)
    if (resized || key.some((v, i) => v !== lastBase.current[i])) {
      drawBase(baseCtx, state, image, dpr, skip);
      lastBase.current = key;
      if (image && w > 0 && h > 0) markBaseDraw(image);
    }
    drawOverlay(ctx, state, dpr);
    decorate?.(ctx, state, dpr);
    markRedraw(performance.now() - started);
  });

  const point = (e: MouseEvent) => {
    const rect = overlay.current!.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };

  return (
    <div class="canvas-wrap" ref={wrap}>
      <canvas ref={base} class="layer" aria-hidden="true" />
      <canvas
        ref={overlay}
        class="layer"
        tabIndex={0}
        role="application"
        aria-label={label}
        data-testid={testId}
        aria-roledescription="image annotation canvas"
        onPointerDown={(e) => {
          overlay.current!.focus();
          overlay.current!.setPointerCapture(e.pointerId);
          dispatch({ type: "pointer_down", screen: point(e), pan: e.button === 1 || spaceDown.current || e.altKey });
        }}
        onPointerMove={(e) => dispatch({ type: "pointer_move", screen: point(e) })}
        onPointerUp={() => dispatch({ type: "pointer_up" })}
        onPointerCancel={() => dispatch({ type: "cancel" })}
        onWheel={(e) => {
          e.preventDefault();
          dispatch({ type: "zoom", factor: Math.exp(-e.deltaY * 0.0015), anchor: point(e) });
        }}
        onKeyDown={(e) => {
          if (e.key === " " && spacePans) {
            spaceDown.current = true;
            e.preventDefault();
            return;
          }
          onKeyDown?.(e);
        }}
        onKeyUp={(e) => {
          if (e.key === " ") spaceDown.current = false;
        }}
        style={{ cursor: state.gesture.kind === "panning" ? "grabbing" : "crosshair" }}
      />
    </div>
  );
}
