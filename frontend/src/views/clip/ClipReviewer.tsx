/**
 * The clip reviewer: frame-accurate stepping over server-extracted frames, tracks with keyframes (state in
 * `clip/clipState.ts`: the editor's canvas edits the current frame, an edit sets a keyframe and the frames
 * between follow), the editor's toolbar and shortcuts, the server model's boxes for a frame on demand, a
 * counting line dragged by its ends with per-track crossings, the device's count (and a dispute's second
 * opinion) against yours, a verdict and the wrong model tracks.
 */

import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { frameUrl, runPrelabelOnFrame } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import type { ClaimedItem, Verdict } from "../../api/shapes";
import { type CountingLine, crossings } from "../../clip/crossing";
import { clipReducer, initialClipState } from "../../clip/clipState";
import { endpointAt, moveEndpoint } from "../../clip/line";
import { mergeDetections } from "../../clip/merge";
import { describeTrackStatus, expandTracks } from "../../clip/tracks";
import { COMMANDS, type Effect } from "../../editor/commands";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { EditorCanvas } from "../editor/EditorCanvas";
import { ItemReason, ReviewerComment } from "../editor/EditorPanels";
import type { SubmitBody } from "../editor/FrameEditor";
import { handleEditorKey, isTyping, useDocumentKeys } from "../editor/keyboard";
import { loadImage } from "../editor/media";
import { LeaseCountdown, useLease } from "../editor/useLease";
import { ClipControls, ClipShortcutHelp, CountingPanel } from "./ClipPanels";
import { drawCountingLine } from "./drawLine";
import { deviceDetections, modelCaption, startingTracks } from "./prelabel";

/** Arrows step frames here, and Space plays: the editor's arrow nudges are left out. */
const CLIP_COMMANDS = COMMANDS.filter((c) => !c.keys.some((k) => k.key.startsWith("Arrow")));
const MAX_SUBMITTED_BOXES = 2000;

interface Props {
  item: ClaimedItem;
  firstFrame: HTMLImageElement;
  labels: readonly string[];
  onSubmit: (body: SubmitBody) => Promise<void>;
  onSkip: () => Promise<void>;
}

export function ClipReviewer({ item, firstFrame, labels, onSubmit, onSkip }: Props) {
  const asset = item.asset!;
  const frameCount = Math.max(1, asset.frame_count ?? 1);
  const fps = asset.fps && asset.fps > 0 ? asset.fps : 10;
  const size = { w: asset.width, h: asset.height };

  const [clip, dispatch] = useReducer(clipReducer, null, () => initialClipState({
    image: size, labels, tracks: startingTracks(item), frameCount,
  }));
  const { editor: state, tracks, frame } = clip;
  const [image, setImage] = useState<HTMLImageElement>(firstFrame);
  const [playing, setPlaying] = useState(false);
  const [line, setLine] = useState<CountingLine>({ a: { x: 0, y: size.h / 2 }, b: { x: size.w, y: size.h / 2 } });
  const [verdict, setVerdict] = useState<Verdict>("correct");
  const [wrongTracks, setWrongTracks] = useState<number[]>([]);
  const [count, setCount] = useState<number | null>(item.rework?.count ?? null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [leaseLost, setLeaseLost] = useState(false);
  const lease = useLease(item, leaseLost);
  const [help, setHelp] = useState(false);
  const [serverBusy, setServerBusy] = useState(false);
  const [serverNote, setServerNote] = useState("");
  /** The counting line's end being dragged (pointer captured by the canvas host), if any. */
  const lineDrag = useRef<"a" | "b" | null>(null);
  const canvasHost = useRef<HTMLDivElement>(null);
  const cache = useRef(new Map<number, HTMLImageElement>([[0, firstFrame]]));
  const startedAt = useRef(new Date());

  // Frames: show the cached decode, fetch it otherwise, and warm the next few for stepping and playback.
  useEffect(() => {
    let live = true;
    const get = (n: number) => {
      const hit = cache.current.get(n);
      if (hit) return Promise.resolve(hit);
      return loadImage(frameUrl(asset.sha256, n)).then((img) => { cache.current.set(n, img); return img; });
    };
    get(frame).then((img) => { if (live) setImage(img); }, (err: unknown) => { if (live) setError(err); });
    for (let n = frame + 1; n < Math.min(frameCount, frame + 6); n++) void get(n).catch(() => undefined);
    return () => { live = false; };
  }, [frame, asset.sha256, frameCount]);

  useEffect(() => {
    if (!playing) return undefined;
    if (frame >= frameCount - 1) {
      setPlaying(false);
      return undefined;
    }
    const timer = setTimeout(() => dispatch({ type: "step", delta: 1 }), 1000 / fps);
    return () => clearTimeout(timer);
  }, [playing, frame, fps, frameCount]);

  const step = useCallback((delta: number) => {
    setPlaying(false);
    dispatch({ type: "step", delta });
  }, []);
  const goTo = useCallback((n: number) => {
    setPlaying(false);
    dispatch({ type: "frame", frame: n });
  }, []);

  const events = useMemo(() => crossings(tracks, line), [tracks, line]);
  const yourCount = events.filter((e) => e.direction === "in").length;
  const modelTracks = useMemo(() => [...new Set(deviceDetections(item).boxes
    .map((d) => d.track_id).filter((id): id is number => typeof id === "number"))].sort((a, b) => a - b),
  [item]);
  const deviceCount = item.dispute ? item.dispute.device.count : item.prelabel?.count ?? null;
  const model = modelCaption(item.dispute?.device.model ?? item.prelabel?.model);

  const selectedTrack = tracks.find((t) => t.id === state.selectedId);

  const act = async (work: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try { await work(); } catch (err) {
      if (err instanceof ApiError && err.leaseLost) setLeaseLost(true); else setError(err);
    } finally { setBusy(false); }
  };
  const submit = () => act(() => {
    let boxes = expandTracks(tracks);
    if (boxes.length > MAX_SUBMITTED_BOXES) {
      boxes = tracks.flatMap((t) => t.keyframes.map((k) => ({ label: t.label, box: [k.box.x, k.box.y, k.box.w, k.box.h],
                                                              frame_index: k.frame, track_id: t.id })));
    }
    return onSubmit({ lease_token: item.lease_token, boxes, count: count ?? yourCount, verdict, note,
                      wrong_tracks: wrongTracks, started_at: startedAt.current.toISOString() });
  });
  /** The server champion's boxes for this frame (run once per frame on the server), merged into the tracks. */
  const addServerBoxes = async () => {
    if (serverBusy) return;
    setServerBusy(true);
    setError(null);
    setServerNote("");
    const at = frame;
    try {
      const run = await runPrelabelOnFrame(item.id, at);
      if (run.status !== "done") throw new Error(`The server model failed on frame ${at + 1}: ${run.error}`);
      const detections = run.boxes as { label: string; box: number[] }[];
      // The same merge the reducer does, counted here for the message (the reducer is the one that applies).
      const { added, matched } = mergeDetections(tracks, at, detections, labels);
      dispatch({ type: "merge_detections", frame: at, detections });
      setServerNote(`${modelCaption({ name: run.model.name, version: String(run.model.version) })} on frame ${at + 1}: `
        + `${plural(detections.length, "box", "boxes")}, ${plural(added, "new track", "new tracks")}, ${matched} already tracked`);
    } catch (err) {
      setError(err);
    } finally {
      setServerBusy(false);
    }
  };

  const onEffect = (effect: Effect) => {
    if (effect === "submit") void submit();
    else if (effect === "skip") void act(onSkip);
    else setHelp((h) => !h);
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (help) {
      if (e.key === "Escape" || e.key === "?") {
        e.preventDefault();
        setHelp(false); // the overlay is modal: Esc and ? close it, other keys wait
      }
      return;
    }
    if (isTyping(e.target)) return;
    // Space and Enter on a focused button are that button's own click.
    if ((e.target as HTMLElement | null)?.tagName === "BUTTON" && (e.key === " " || e.key === "Enter")) return;
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      step((e.key === "ArrowLeft" ? -1 : 1) * (e.shiftKey ? 10 : 1));
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      setPlaying(false);
      dispatch({ type: "jump", to: e.key === "Home" ? "first" : "last" });
    } else if (e.key === "e" && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      dispatch({ type: "keyframe_here" });
    } else if (e.key === " ") {
      e.preventDefault();
      setPlaying((p) => !p);
    } else {
      handleEditorKey(e, dispatch, onEffect, CLIP_COMMANDS);
    }
  };

  useDocumentKeys(onKeyDown);

  // The counting line's ends are grabbed before the editor sees the press (capture phase), so dragging an end
  // never starts a box; anywhere else the canvas behaves as in the frame editor.
  const screenPoint = (e: PointerEvent) => {
    const rect = canvasHost.current!.querySelector("canvas[data-testid=clip-canvas]")!.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  };
  const onLineDown = (e: PointerEvent) => {
    if (e.button !== 0 || state.gesture.kind !== "idle") return;
    const end = endpointAt(line, state.view, screenPoint(e));
    if (!end) return;
    e.stopPropagation();
    e.preventDefault();
    lineDrag.current = end;
    canvasHost.current!.setPointerCapture(e.pointerId);
  };
  const onLineMove = (e: PointerEvent) => {
    const end = lineDrag.current;
    if (!end) return;
    e.stopPropagation();
    setLine((l) => moveEndpoint(l, end, state.view, screenPoint(e), size));
  };
  const onLineUp = (e: PointerEvent) => {
    if (!lineDrag.current) return;
    e.stopPropagation();
    lineDrag.current = null;
  };

  const selected = state.boxes.find((b) => b.id === state.selectedId);
  return (
    <div class="editor">
      <div class="editor-main">
        <div class="canvas-host" ref={canvasHost} data-testid="clip-canvas-host" onPointerDownCapture={onLineDown}
             onPointerMoveCapture={onLineMove} onPointerUpCapture={onLineUp}>
          <EditorCanvas state={state} dispatch={dispatch} image={image} spacePans={false} testId="clip-canvas"
                        label={`Clip ${item.id}, frame ${frame + 1} of ${frameCount}; press ? for shortcuts`}
                        decorate={(ctx, s, dpr) => drawCountingLine(ctx, s.view, dpr, line)} />
        </div>
        <ClipControls frame={frame} frameCount={frameCount} fps={fps} playing={playing} step={step}
                      setFrame={goTo} togglePlay={() => setPlaying((p) => !p)} />
        <div class="toolbar row" role="toolbar" aria-label="Editor">
          <button type="button" onClick={() => dispatch({ type: "undo" })} disabled={clip.past.length === 0}
                  data-testid="undo" aria-keyshortcuts="Control+Z">Undo</button>
          <button type="button" onClick={() => dispatch({ type: "redo" })} disabled={clip.future.length === 0}
                  data-testid="redo" aria-keyshortcuts="Control+Shift+Z">Redo</button>
          <button type="button" onClick={() => dispatch({ type: "zoom", factor: 1.25 })} data-testid="zoom-in"
                  aria-keyshortcuts="+">Zoom in</button>
          <button type="button" onClick={() => dispatch({ type: "zoom", factor: 0.8 })} data-testid="zoom-out"
                  aria-keyshortcuts="-">Zoom out</button>
          <button type="button" onClick={() => dispatch({ type: "fit" })} data-testid="zoom-fit" aria-keyshortcuts="0">Fit</button>
          <button type="button" onClick={() => dispatch({ type: "delete_selected" })} disabled={!selected}
                  data-testid="delete-box" aria-keyshortcuts="Delete">Delete track</button>
          <button type="button" disabled={serverBusy} data-testid="server-prelabels"
                  title="Run the project's champion on this frame on the server and add its boxes as tracks"
                  onClick={() => void addServerBoxes()}>
            {serverBusy ? "Running server model…" : "Server model boxes (this frame)"}
          </button>
          <button type="button" onClick={() => setHelp(true)} data-testid="help-toggle" aria-keyshortcuts="?">
            Shortcuts (?)
          </button>
        </div>
        {serverNote && <p data-testid="server-prelabel-status" aria-live="polite">{serverNote}</p>}
        <div class="toolbar row" role="toolbar" aria-label="Tracks">
          <button type="button" onClick={() => dispatch({ type: "keyframe_here" })} disabled={!selectedTrack}
                  data-testid="keyframe-set" aria-keyshortcuts="e">
            Keyframe selected track here (e)
          </button>
          <span data-testid="keyframe-status" aria-live="polite">
            {selectedTrack ? describeTrackStatus(selectedTrack, frame)
              : "Select a box to edit its track; draw to start a new track"}
          </span>
        </div>
      </div>
      <aside class="editor-side">
        <ReviewerComment item={item} />
        <LeaseCountdown lease={lease} />
        <ErrorBanner error={error ?? lease.error} />
        {/* The model is captioned in the counting panel: a dispute's own pre-label often names none. */}
        <ItemReason item={{ ...item, prelabel: null }} />
        <CountingPanel line={line} setLine={setLine} size={size} events={events} deviceCount={deviceCount}
                       model={model} dispute={item.dispute ?? null}
                       yourCount={yourCount} count={count} setCount={setCount} verdict={verdict} setVerdict={setVerdict}
                       modelTracks={modelTracks} wrongTracks={wrongTracks} setWrongTracks={setWrongTracks}
                       note={note} setNote={setNote} goTo={goTo} />
        <div class="row">
          <button type="button" class="primary" onClick={() => void submit()} disabled={busy || lease.lost}
                  data-testid="submit">Submit (s)</button>
          <button type="button" onClick={() => void act(onSkip)} disabled={busy} data-testid="skip">Skip (k)</button>
        </div>
      </aside>
      {help && <ClipShortcutHelp commands={CLIP_COMMANDS} onClose={() => setHelp(false)} />}
    </div>
  );
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
