/**
 * The clip reviewer: frame-accurate stepping over server-extracted frames, tracks with keyframes (state in
 * `clip/clipState.ts`: the editor's canvas edits the current frame, an edit sets a keyframe and the frames
 * between follow), a counting line with per-track crossings, the device's count against yours, a verdict and
 * the wrong model tracks.
 */

import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { frameUrl } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import type { ClaimedItem, Verdict } from "../../api/shapes";
import { type CountingLine, crossings } from "../../clip/crossing";
import { clipReducer, initialClipState } from "../../clip/clipState";
import { expandTracks, isKeyframe } from "../../clip/tracks";
import { COMMANDS, type Effect } from "../../editor/commands";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { EditorCanvas } from "../editor/EditorCanvas";
import { ItemReason } from "../editor/EditorPanels";
import type { SubmitBody } from "../editor/FrameEditor";
import { handleEditorKey, isTyping, useDocumentKeys } from "../editor/keyboard";
import { loadImage } from "../editor/media";
import { LeaseCountdown, useLease } from "../editor/useLease";
import { ClipControls, CountingPanel } from "./ClipPanels";
import { drawCountingLine } from "./drawLine";
import { tracksFromPrelabel } from "./prelabel";

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
    image: size, labels, tracks: tracksFromPrelabel(item), frameCount,
  }));
  const { editor: state, tracks, frame } = clip;
  const [image, setImage] = useState<HTMLImageElement>(firstFrame);
  const [playing, setPlaying] = useState(false);
  const [line, setLine] = useState<CountingLine>({ a: { x: 0, y: size.h / 2 }, b: { x: size.w, y: size.h / 2 } });
  const [verdict, setVerdict] = useState<Verdict>("correct");
  const [wrongTracks, setWrongTracks] = useState<number[]>([]);
  const [count, setCount] = useState<number | null>(null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [leaseLost, setLeaseLost] = useState(false);
  const lease = useLease(item, leaseLost);
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
  const modelTracks = useMemo(() => [...new Set((item.prelabel?.boxes ?? [])
    .map((d) => d.track_id).filter((id): id is number => typeof id === "number"))].sort((a, b) => a - b),
  [item]);

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
  const onEffect = (effect: Effect) => {
    if (effect === "submit") void submit();
    else if (effect === "skip") void act(onSkip);
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (isTyping(e.target)) return;
    // Space and Enter on a focused button are that button's own click.
    if ((e.target as HTMLElement | null)?.tagName === "BUTTON" && (e.key === " " || e.key === "Enter")) return;
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      step((e.key === "ArrowLeft" ? -1 : 1) * (e.shiftKey ? 10 : 1));
    } else if (e.key === " ") {
      e.preventDefault();
      setPlaying((p) => !p);
    } else {
      handleEditorKey(e, dispatch, onEffect, CLIP_COMMANDS);
    }
  };

  useDocumentKeys(onKeyDown);

  return (
    <div class="editor">
      <div class="editor-main">
        <EditorCanvas state={state} dispatch={dispatch} image={image} spacePans={false} testId="clip-canvas"
                      label={`Clip ${item.id}, frame ${frame + 1} of ${frameCount}`}
                      decorate={(ctx, s, dpr) => drawCountingLine(ctx, s.view, dpr, line)} />
        <ClipControls frame={frame} frameCount={frameCount} fps={fps} playing={playing} step={step}
                      setFrame={goTo} togglePlay={() => setPlaying((p) => !p)} />
        <div class="toolbar row" role="toolbar" aria-label="Tracks">
          <button type="button" onClick={() => dispatch({ type: "keyframe_here" })} disabled={!selectedTrack} data-testid="keyframe-set">
            Keyframe selected track here
          </button>
          <span data-testid="keyframe-status">
            {selectedTrack ? `Track #${selectedTrack.id}${isKeyframe(selectedTrack, frame) ? " (keyframe)" : " (interpolated)"}`
              : "Select a box to edit its track; draw to start a new track"}
          </span>
        </div>
      </div>
      <aside class="editor-side">
        <LeaseCountdown lease={lease} />
        <ErrorBanner error={error ?? lease.error} />
        <ItemReason item={item} />
        <CountingPanel line={line} setLine={setLine} size={size} events={events} deviceCount={item.prelabel?.count ?? null}
                       yourCount={yourCount} count={count} setCount={setCount} verdict={verdict} setVerdict={setVerdict}
                       modelTracks={modelTracks} wrongTracks={wrongTracks} setWrongTracks={setWrongTracks}
                       note={note} setNote={setNote} goTo={goTo} />
        <div class="row">
          <button type="button" class="primary" onClick={() => void submit()} disabled={busy || lease.lost}
                  data-testid="submit">Submit (s)</button>
          <button type="button" onClick={() => void act(onSkip)} disabled={busy} data-testid="skip">Skip (k)</button>
        </div>
      </aside>
    </div>
  );
}
