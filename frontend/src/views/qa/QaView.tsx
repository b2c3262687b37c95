/**
 * QA review at speed. The submitted version opens in the editor's canvas (zoom/pan, the whole free space) with
 * what changed since the model's pre-label drawn over it; the reviewer accepts (a), rejects with a comment
 * pinned to a region (r), or fixes boxes in place and accepts (a stores the fix as the reviewer's version), and
 * the next submitted item opens at once (n skips without deciding).
 */

import { useCallback, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { assetUrl, frameUrl, itemHistory, listItems, readProject, review } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import type { AnnotationVersion, ItemHistory, SubmittedBox } from "../../api/shapes";
import type { LabelledBox } from "../../editor/agreement";
import { clipToImage } from "../../editor/geometry";
import { type EditorAction, type EditorBox, draftRect, editorReducer, initialState } from "../../editor/state";
import { useProjectMessage } from "../../realtime/ProjectLive";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { EditorCanvas } from "../editor/EditorCanvas";
import { FlagOutcome } from "../flags/FlagOutcome";
import { ShortcutHelp } from "../editor/EditorPanels";
import { drawCommentPin } from "../editor/drawPin";
import { handleEditorKey, useDocumentKeys } from "../editor/keyboard";
import { loadImage } from "../editor/media";
import { DecisionPanel, DiffLegend, SubmittedPanel, VersionList } from "./QaPanels";
import { QA_COMMANDS, type QaEffect } from "./commands";
import { classifyDiff, countDiff, describeDiff, sameBoxes } from "./diff";
import { drawDiff } from "./drawDiff";
import { type QaOrdering, openNext, saveOrdering, savedOrdering, takeFlash } from "./next";

const pct = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(0)} %`);
const MIN_REGION = 3; // image pixels: a click is not a region

/** What happened to the item just left (read once by the screen that follows a decision). */
function Flash({ message }: { message: string | null }) {
  return message ? <p class="banner banner-ok" role="status" data-testid="qa-done">{message}</p> : null;
}

/** Items awaiting review, newest first; the list refreshes when the queue changes (no polling). */
function ItemPicker({ project }: { project: number }) {
  const [ordering, setOrdering] = useState<QaOrdering>(savedOrdering);
  const [flash] = useState(takeFlash);
  const items = useAsync(() => listItems(project, { status: "submitted", ordering }), [project, ordering]);
  const reload = items.reload;
  useProjectMessage("queue.stats", reload);
  return (
    <section class="card stack">
      <h1>QA review</h1>
      <Flash message={flash} />
      <label>
        Order
        <select value={ordering} data-testid="qa-ordering"
                onChange={(e) => {
                  const value = e.currentTarget.value as QaOrdering;
                  saveOrdering(value); // the next-item order after each decision follows it
                  setOrdering(value);
                }}>
          <option value="-updated_at">Newest submitted first</option>
          <option value="updated_at">Oldest submitted first</option>
          <option value="agreement">Lowest agreement first</option>
          <option value="-priority">Highest priority first</option>
        </select>
      </label>
      <ErrorBanner error={items.error} />
      {items.data && items.data.length === 0 && <p data-testid="qa-empty">Nothing is awaiting review.</p>}
      {items.data && items.data.length > 0 && (
        <table data-testid="qa-list">
          <caption class="sr-only">Items awaiting review</caption>
          <thead><tr><th scope="col">Frame</th><th scope="col">Item</th><th scope="col">Reason</th>
            <th scope="col">Site</th><th scope="col">Latest version</th><th scope="col">Agreement</th></tr></thead>
          <tbody>
            {items.data.map((row) => (
              <tr key={row.id}>
                <td>{row.asset && <img class="thumb" src={row.asset.thumb_url} alt="" loading="lazy" />}</td>
                <td><a href={href.qa(project, row.id)} data-testid={`qa-item-${row.id}`}>Item {row.id}</a></td>
                <td>{row.reason}</td>
                <td>{row.site?.name ?? "—"}</td>
                <td>{row.latest ? `v${row.latest.version} by ${row.latest.author ?? "?"}` : "—"}</td>
                <td>{pct(row.agreement)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {items.loading && !items.data && <p>Loading…</p>}
    </section>
  );
}

export function QaView({ project, item }: { project: number; item: number | null }) {
  if (item === null) return <ItemPicker project={project} />;
  return <QaItem key={item} project={project} item={item} />;
}

/** The frame the boxes are on: a clip shows its pre-label frame and only that frame's boxes. */
function frameOf(history: ItemHistory): { url: string; frame: number | null } {
  const asset = history.item.asset!;
  if (asset.kind !== "clip") return { url: assetUrl(asset.sha256), frame: null };
  const frame = history.item.prelabel?.frame_index ?? 0;
  return { url: frameUrl(asset.sha256, frame), frame };
}

function onFrame<T extends { frame_index?: number | null }>(boxes: readonly T[], frame: number | null): T[] {
  return frame === null ? [...boxes] : boxes.filter((b) => (b.frame_index ?? 0) === frame);
}

/** Loads the item, its project's classes and its picture, then opens the review. */
function QaItem({ project, item }: { project: number; item: number }) {
  const [flash] = useState(takeFlash);
  const history = useAsync(() => itemHistory(item), [item]);
  const detail = useAsync(() => readProject(project), [project]);
  const url = history.data?.item.asset ? frameOf(history.data).url : null;
  const image = useAsync(() => (url ? loadImage(url) : Promise.resolve(null)), [url]);
  const h = history.data;
  const error = history.error ?? detail.error ?? image.error;
  if (error || !h || !detail.data || (url && !image.data)) {
    return <section><Flash message={flash} /><ErrorBanner error={error} />{!error && <p>Loading…</p>}</section>;
  }
  if (!h.item.asset) return <p>This item has no media.</p>;
  return <QaReview project={project} history={h} labels={detail.data.label_classes} image={image.data ?? null}
                   flash={flash} />;
}

const round = (v: number) => Math.round(v * 100) / 100;

function editorBoxes(boxes: readonly SubmittedBox[]): EditorBox[] {
  return boxes.map((b, i) => ({
    id: i + 1, x: b.box[0] ?? 0, y: b.box[1] ?? 0, w: b.box[2] ?? 0, h: b.box[3] ?? 0, label: b.label,
    origin: "person", accepted: true, score: null, trackId: b.track_id ?? null,
  }));
}

function QaReview({ project, history: h, labels, image, flash }: {
  project: number; history: ItemHistory; labels: readonly string[]; image: HTMLImageElement | null;
  flash: string | null;
}) {
  const itemId = h.item.id;
  const asset = h.item.asset!;
  const { url, frame } = frameOf(h);
  const size = { w: asset.width, h: asset.height };
  const versions = useMemo(() => [...h.versions].reverse(), [h.versions]);
  const latest: AnnotationVersion | undefined = versions[0];
  const submitted = useMemo(() => onFrame(latest?.boxes ?? [], frame), [latest, frame]);
  const prelabel = useMemo(() => onFrame(h.item.prelabel?.boxes ?? [], frame), [h.item.prelabel, frame]);
  const [state, dispatch] = useReducer(editorReducer, null, () => editorReducer(initialState(labels), {
    type: "load", image: size, boxes: editorBoxes(submitted), labels,
  }));
  const [comment, setComment] = useState("");
  const [region, setRegion] = useState<number[] | null>(null);
  const [pinning, setPinning] = useState(false);
  const [showDiff, setShowDiff] = useState(true);
  const [help, setHelp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const commentRef = useRef<HTMLTextAreaElement>(null);

  const current: LabelledBox[] = useMemo(
    () => state.boxes.map((b) => ({ label: b.label, box: [round(b.x), round(b.y), round(b.w), round(b.h)] })),
    [state.boxes]);
  const edited = !sameBoxes(submitted, current);
  const diff = useMemo(() => classifyDiff(prelabel, current), [prelabel, current]);
  const fix = useMemo(() => (edited ? describeDiff(countDiff(classifyDiff(submitted, current))) : null),
                      [edited, submitted, current]);

  // Marking a region reuses the editor's rubber band: the drawn rectangle becomes the region, not a box.
  // A stable dispatch (refs, not state): the canvas re-subscribes its resize observer when it changes.
  const stateRef = useRef(state);
  stateRef.current = state;
  const pinningRef = useRef(pinning);
  pinningRef.current = pinning;
  const canvasDispatch = useCallback((a: EditorAction) => {
    if (pinningRef.current && a.type === "pointer_down" && !a.pan) {
      dispatch({ ...a, draw: true });
      return;
    }
    const g = stateRef.current.gesture;
    if (pinningRef.current && a.type === "pointer_up" && (g.kind === "drawing" || g.kind === "pointing")) {
      const draft = draftRect(stateRef.current);
      const rect = draft && clipToImage(draft, stateRef.current.image);
      dispatch({ type: "cancel" });
      if (rect && rect.w >= MIN_REGION && rect.h >= MIN_REGION) {
        setRegion([rect.x, rect.y, rect.w, rect.h].map((v) => Math.round(v)));
        setPinning(false);
      }
      return;
    }
    dispatch(a);
  }, []);

  const fixBoxes = () => {
    // A clip's other frames keep the submitted boxes: the reviewer fixed the frame on screen.
    const others = frame === null ? [] : (latest?.boxes ?? []).filter((b) => (b.frame_index ?? 0) !== frame);
    const mine = state.boxes.map((b) => ({
      label: b.label, box: [round(b.x), round(b.y), round(b.w), round(b.h)],
      ...(frame === null ? {} : { frame_index: frame }), ...(b.trackId === null ? {} : { track_id: b.trackId }),
    }));
    return [...others, ...mine];
  };

  const decide = async (decision: "accept" | "reject") => {
    if (busy) return;
    setError(null);
    if (decision === "reject" && !comment.trim()) {
      commentRef.current?.focus();
      setError(new Error("Write a comment for the annotator to reject (the comment box has the focus)."));
      return;
    }
    setBusy(true);
    try {
      const boxes = decision === "accept" && edited ? fixBoxes() : undefined;
      const pinned = decision === "reject" && region ? { box: region, frame_index: frame } : null;
      const r = await review(itemId, { decision, comment: decision === "reject" ? comment : "", region: pinned,
                                       ...(boxes ? { boxes } : {}) });
      const stored = boxes ? ` Your fix is stored as the accepted version (${fix}).` : "";
      await openNext(project, itemId, { message: `Item ${r.id} is now ${r.status}.${stored}` });
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        // Someone decided it first: nothing to redo here, move on.
        await openNext(project, itemId, { message: `Item ${itemId} was already decided by someone else.` });
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };
  const next = () => { void openNext(project, itemId, { pass: true }).catch(setError); };
  const togglePin = () => {
    setRegion(null);
    setPinning((p) => !p);
  };
  const onEffect = (effect: QaEffect) => {
    if (effect === "accept") void decide("accept");
    else if (effect === "reject") commentRef.current?.focus();
    else if (effect === "next") next();
    else if (effect === "toggle_diff") setShowDiff((v) => !v);
    else if (effect === "pin") togglePin();
    else setHelp((v) => !v);
  };
  useDocumentKeys((e) => {
    if (!help) {
      handleEditorKey(e, dispatch, onEffect, QA_COMMANDS);
    } else if (e.key === "Escape" || e.key === "?") {
      e.preventDefault();
      setHelp(false);
    }
  });

  const pin = region ? { box: region, frame_index: frame } : null;
  const decorate = (ctx: CanvasRenderingContext2D, s: typeof state, dpr: number) => {
    if (showDiff) drawDiff(ctx, s.view, dpr, diff);
    if (pin) drawCommentPin(ctx, s.view, dpr, pin);
  };
  const selected = state.boxes.find((b) => b.id === state.selectedId);
  return (
    <section class="qa" aria-label={`QA: item ${itemId}`}>
      <header class="row qa-head">
        <h1>QA: item {itemId} <small>({h.item.status}, {h.item.reason})</small></h1>
        <a href={href.qa(project)}>All items awaiting review</a>
        <a href={href.history(project, itemId)}>History and audit</a>
        <Flash message={flash} />
      </header>
      <div class="editor qa-editor">
        <div class="editor-main">
          <EditorCanvas state={state} dispatch={canvasDispatch} image={image} testId="qa-canvas"
                        label={`Item ${itemId}: the submitted boxes; drag to fix them; press ? for shortcuts`}
                        decorate={decorate} />
          <p class="sr-status" aria-live="polite" data-testid="qa-selection">
            {pinning ? "Drag on the image to mark the region the comment is about"
              : selected ? `Selected: ${selected.label}` : "Drag a box to fix it, or on empty space to add one"}
          </p>
          <div class="toolbar row" role="toolbar" aria-label="View and fix">
            <button type="button" onClick={() => dispatch({ type: "zoom", factor: 1.25 })} data-testid="qa-zoom-in"
                    aria-keyshortcuts="+">Zoom in (+)</button>
            <button type="button" onClick={() => dispatch({ type: "zoom", factor: 0.8 })} data-testid="qa-zoom-out"
                    aria-keyshortcuts="-">Zoom out (−)</button>
            <button type="button" onClick={() => dispatch({ type: "fit" })} data-testid="qa-zoom-fit"
                    aria-keyshortcuts="0">Fit (0)</button>
            <button type="button" onClick={() => dispatch({ type: "undo" })} disabled={state.past.length === 0}
                    data-testid="qa-undo" aria-keyshortcuts="Control+Z">Undo (Ctrl+Z)</button>
            <button type="button" onClick={() => dispatch({ type: "delete_selected" })} disabled={!selected}
                    data-testid="qa-delete-box" aria-keyshortcuts="Delete">Delete box (Del)</button>
            <button type="button" onClick={() => dispatch({ type: "load", image: size, boxes: editorBoxes(submitted),
                                                             labels, keepView: true })}
                    disabled={!edited} data-testid="qa-discard">Discard fixes</button>
            <button type="button" onClick={() => setHelp(true)} data-testid="qa-help" aria-keyshortcuts="?">
              Shortcuts (?)</button>
          </div>
        </div>
        <aside class="editor-side stack">
          <DecisionPanel edited={edited} busy={busy} comment={comment} setComment={setComment} region={region}
                         onUnpin={() => setRegion(null)} pinning={pinning} onPin={togglePin} onDecide={decide}
                         onNext={next} commentRef={commentRef} error={error} />
          {/* Item context (e.g. a count flag's window and note) goes here, one line per kind. */}
          {latest && h.item.count_flag && <FlagOutcome flag={h.item.count_flag} latest={latest} />}
          <DiffLegend show={showDiff} onToggle={() => setShowDiff((v) => !v)} counts={countDiff(diff)} fix={fix}
                      title={`Model pre-label → ${edited ? "your fix" : latest ? `v${latest.version}` : "nothing"}`} />
          {latest ? <SubmittedPanel latest={latest} prelabel={prelabel} countFlag={!!h.item.count_flag} /> : <p>No annotation submitted yet.</p>}
          <VersionList url={url} size={size} labels={labels} prelabel={prelabel} latest={latest}
                       older={versions.slice(1).map((v) => ({ ...v, boxes: onFrame(v.boxes, frame) }))} />
        </aside>
      </div>
      {help && <ShortcutHelp commands={QA_COMMANDS} onClose={() => setHelp(false)} />}
    </section>
  );
}
