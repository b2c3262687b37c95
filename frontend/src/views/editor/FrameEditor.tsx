/**
 * The box editor for one claimed frame item (mount it keyed by the item id): canvas, panels, lease, submit, skip.
 *
 * What is stored follows DESIGN.md "Review": pre-labels at or above the project's threshold are the starting
 * answer (stored unless deleted), those below are dashed suggestions that count only when accepted, and
 * reworked work starts from the rejected version. The side panel keeps Submit in a footer that never scrolls
 * away; why the item was queued is a collapsed panel under the work.
 */

import { useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import type { components } from "../../api/schema";
import type { ClaimedItem, Verdict } from "../../api/shapes";
import type { Effect } from "../../editor/commands";
import { boxCaption } from "../../editor/draw";
import {
  type EditorState, boxesFromDetections, boxesFromVersion, editorReducer, initialState, newBoxes, submittedBoxes,
  suggestionsLeft,
} from "../../editor/state";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { BoxList, ClassPicker, ItemReason, ReviewerComment, SKIP_REASONS, ShortcutHelp, SkipDialog } from "./EditorPanels";
import { EditorCanvas } from "./EditorCanvas";
import { drawCommentPin } from "./drawPin";
import { handleEditorKey, useDocumentKeys } from "./keyboard";
import { LeaseCountdown, useLease } from "./useLease";
import { ApiError } from "../../api/errors";
import { listPrelabels, runPrelabel } from "../../api/endpoints";
import { markSubmit } from "../../perf";

export type SubmitBody = components["schemas"]["SubmitBody"];

/** The project's default when the claim does not say (reviewer/models.py Project.prelabel_threshold). */
const DEFAULT_THRESHOLD = 0.5;

interface Props {
  item: ClaimedItem;
  image: HTMLImageElement;
  labels: readonly string[];
  onSubmit: (body: SubmitBody) => Promise<void>;
  /** Release the item with the person's reason ("" for none) and move on. */
  onSkip: (reason: string) => Promise<void>;
}

/** The boxes the editor opens with: the rejected version when reworking, else the pre-label split by threshold. */
function startingState(item: ClaimedItem, image: HTMLImageElement, labels: readonly string[]): EditorState {
  const threshold = item.prelabel_threshold ?? DEFAULT_THRESHOLD;
  const boxes = item.rework
    ? boxesFromVersion(item.rework.boxes)
    : boxesFromDetections(item.prelabel?.boxes ?? [], threshold);
  return editorReducer(initialState(labels), {
    type: "load", image: { w: item.asset?.width ?? image.naturalWidth, h: item.asset?.height ?? image.naturalHeight },
    boxes, labels,
  });
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function FrameEditor({ item, image, labels, onSubmit, onSkip }: Props) {
  const pin = item.rework ? item.rework.region : item.last_comment_region;
  const threshold = item.prelabel_threshold ?? DEFAULT_THRESHOLD;
  // Mounted once per item (keyed by its id): the first render already shows the item's boxes.
  const [state, dispatch] = useReducer(editorReducer, null, () => startingState(item, image, labels));
  /** The boxes as the item opened: undo back to them counts as unchanged. */
  const startingBoxes = useRef(state.boxes);
  const [help, setHelp] = useState(false);
  const [skipping, setSkipping] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [leaseLost, setLeaseLost] = useState(false);
  const [verdict, setVerdict] = useState<Verdict>("correct");
  /** "Model was right" after changing boxes: ask which to store instead of silently dropping either. */
  const [askModelRight, setAskModelRight] = useState(false);
  const [note, setNote] = useState("");
  const [serverResult, setServerResult] = useState("");
  const startedAt = useRef(new Date());
  const canvasHost = useRef<HTMLDivElement>(null);
  const lease = useLease(item, leaseLost);
  const changed = state.boxes !== startingBoxes.current;
  const unaccepted = suggestionsLeft(state);

  useEffect(() => {
    canvasHost.current?.querySelector<HTMLElement>("[data-testid=editor-canvas]")?.focus();
  }, []);

  const [serverBusy, setServerBusy] = useState(false);
  /**
   * The server champion's boxes for this frame (run now if it has not run yet), merged with what is there:
   * a box matching one already on the frame (same label, IoU ≥ 0.5) is not added again.
   */
  const addServerBoxes = async () => {
    setServerBusy(true);
    setError(null);
    setServerResult("");
    try {
      const done = (await listPrelabels(item.id)).find((r) => r.status === "done" && r.model.status === "champion");
      const run = done ?? await runPrelabel(item.id);
      if (run.status !== "done") throw new Error(`The server model failed on this frame: ${run.error}`);
      const onFrame = (run.boxes as { label: string; score: number; box: number[] }[])
        .filter((b) => labels.includes(b.label));
      const fresh = newBoxes(state.boxes, boxesFromDetections(onFrame, threshold, { indexed: false }));
      dispatch({ type: "add_prelabels", boxes: fresh });
      const already = onFrame.length - fresh.length;
      setServerResult(`Server model: ${plural(fresh.length, "new box", "new boxes")} added`
                      + (already > 0 ? `, ${already} already on the frame.` : "."));
    } catch (err) {
      setError(err);
    } finally {
      setServerBusy(false);
    }
  };

  const act = async (work: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      if (err instanceof ApiError && err.leaseLost) setLeaseLost(true);
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  const send = (chosen: Verdict) => act(() => {
    markSubmit(image);
    setAskModelRight(false);
    // "Model was right": the server stores the model's boxes at or above the threshold, so none are sent.
    const body = { lease_token: item.lease_token, verdict: chosen, note, started_at: startedAt.current.toISOString(),
                   ...(chosen === "confirm" ? {} : { boxes: submittedBoxes(state) }) };
    return onSubmit(body as SubmitBody);
  });
  const submit = () => {
    if (verdict === "confirm" && changed) setAskModelRight(true);
    else void send(verdict);
  };
  const skip = (reason: string) => {
    setSkipping(false);
    void act(() => onSkip(reason));
  };
  const onEffect = (effect: Effect) => {
    if (effect === "submit") submit();
    else if (effect === "skip") setSkipping(true);
    else setHelp((h) => !h);
  };

  useDocumentKeys((e) => {
    if (skipping) {
      // The skip choice is modal: 1–4 pick a reason, Enter skips (on a focused button, the button itself).
      const index = Number(e.key) - 1;
      if (e.key === "Escape") setSkipping(false);
      else if (SKIP_REASONS[index] !== undefined) skip(SKIP_REASONS[index]);
      else if (e.key === "Enter" && (e.target as HTMLElement | null)?.tagName !== "BUTTON") skip("");
      else return;
      e.preventDefault();
    } else if (help) {
      if (e.key === "Escape" || e.key === "?") {
        e.preventDefault();
        setHelp(false); // the overlay is modal: Esc and ? close it, other keys wait
      }
    } else {
      handleEditorKey(e, dispatch, onEffect);
    }
  });

  const g = state.gesture;
  const listBoxes = g.kind === "moving" || g.kind === "resizing" ? g.mark.boxes : state.boxes;
  const selected = state.boxes.find((b) => b.id === state.selectedId);
  // The same vnode while a drag runs (the mark's boxes): Preact skips it, so 500 list rows are not re-diffed.
  const boxList = useMemo(() => <BoxList boxes={listBoxes} selectedId={state.selectedId} dispatch={dispatch} />,
                          [listBoxes, state.selectedId]);
  const { brightness, contrast } = state.imageFilter;
  return (
    <div class="editor">
      <div class="editor-main" ref={canvasHost}>
        <EditorCanvas state={state} dispatch={dispatch} image={image}
                      label={`Item ${item.id}: draw boxes by dragging; press ? for shortcuts`}
                      decorate={pin ? (ctx, s, dpr) => drawCommentPin(ctx, s.view, dpr, pin) : undefined} />
        <p class="sr-status" aria-live="polite" data-testid="selection-status">
          {selected ? `Selected: ${boxCaption(selected)}` : "No box selected"}
        </p>
        <div class="toolbar row" role="toolbar" aria-label="Editor">
          <button type="button" onClick={() => dispatch({ type: "undo" })} disabled={state.past.length === 0}
                  data-testid="undo">Undo</button>
          <button type="button" onClick={() => dispatch({ type: "redo" })} disabled={state.future.length === 0}
                  data-testid="redo">Redo</button>
          <button type="button" onClick={() => dispatch({ type: "zoom", factor: 1.25 })} data-testid="zoom-in">Zoom in</button>
          <button type="button" onClick={() => dispatch({ type: "zoom", factor: 0.8 })} data-testid="zoom-out">Zoom out</button>
          <button type="button" onClick={() => dispatch({ type: "fit" })} data-testid="zoom-fit">Fit</button>
          <button type="button" onClick={() => dispatch({ type: "add_box" })} data-testid="add-box">Add box</button>
          <button type="button" onClick={() => dispatch({ type: "delete_selected" })} disabled={!selected}
                  data-testid="delete-box">Delete</button>
          <button type="button" onClick={() => dispatch({ type: "accept_all" })} data-testid="accept-all"
                  disabled={unaccepted === 0} aria-keyshortcuts="a">
            Accept all suggestions (a)
          </button>
          <label>
            <input type="checkbox" checked={state.showPrelabels} data-testid="prelabel-toggle"
                   onChange={() => dispatch({ type: "toggle_prelabels" })} /> Show suggestions
          </label>
          <button type="button" disabled={serverBusy} data-testid="server-prelabels"
                  title="Run the project's champion on this frame on the server and add the boxes not already here"
                  onClick={() => void addServerBoxes()}>
            {serverBusy ? "Running server model…" : "Server model boxes"}
          </button>
          <span class="row tight" role="group" aria-label="Image brightness and contrast">
            <button type="button" onClick={() => dispatch({ type: "adjust_image", brightness: 0.8 })}
                    data-testid="darker" aria-keyshortcuts="[" title="Darker ([)">☀−</button>
            <output data-testid="brightness" title="Brightness">{Math.round(brightness * 100)}%</output>
            <button type="button" onClick={() => dispatch({ type: "adjust_image", brightness: 1.25 })}
                    data-testid="brighter" aria-keyshortcuts="]" title="Brighter (])">☀+</button>
            <button type="button" onClick={() => dispatch({ type: "adjust_image", contrast: 0.8 })}
                    data-testid="less-contrast" aria-keyshortcuts="{" title="Less contrast ({)">◐−</button>
            <output data-testid="contrast" title="Contrast">{Math.round(contrast * 100)}%</output>
            <button type="button" onClick={() => dispatch({ type: "adjust_image", contrast: 1.25 })}
                    data-testid="more-contrast" aria-keyshortcuts="}" title="More contrast (})">◐+</button>
            <button type="button" onClick={() => dispatch({ type: "reset_image" })} data-testid="reset-image"
                    disabled={brightness === 1 && contrast === 1} aria-keyshortcuts="\" title="As captured (\)">
              Reset
            </button>
          </span>
          <button type="button" onClick={() => setHelp(true)} data-testid="help-toggle" aria-keyshortcuts="?">
            Shortcuts (?)
          </button>
        </div>
        {serverResult && <p class="hint" role="status" data-testid="server-boxes-result">{serverResult}</p>}
      </div>
      <aside class="editor-side">
        <div class="side-scroll">
          <ReviewerComment item={item} />
          {item.resumed && (
            <p class="hint" data-testid="resumed-note">Your item from before, still leased to you: it starts over
              from its {item.rework ? "rejected version" : "pre-label"}.</p>
          )}
          <LeaseCountdown lease={lease} />
          <ErrorBanner error={error ?? lease.error} />
          <ClassPicker labels={labels} active={state.activeLabel} dispatch={dispatch} />
          {boxList}
          <ItemReason item={item} />
        </div>
        <section class="card stack side-footer" aria-label="Submit">
          <label class="inline">
            Verdict
            <select value={verdict} data-testid="verdict" onChange={(e) => {
              setVerdict(e.currentTarget.value as Verdict);
              setAskModelRight(false);
            }}>
              <option value="correct">Corrected / checked</option>
              <option value="confirm">Model was right</option>
              <option value="unusable">Unusable image</option>
            </select>
          </label>
          {verdict === "confirm" && changed && !askModelRight && (
            <p class="banner banner-warn" data-testid="model-right-changed">
              You changed the boxes. “Model was right” stores the model's boxes, not your changes.
            </p>
          )}
          {askModelRight && (
            <div class="banner banner-warn stack tight" role="alert" data-testid="model-right-choice">
              <p>You changed the boxes, but “Model was right” stores the model's boxes as they came. Which to store?</p>
              <div class="row">
                <button type="button" data-testid="store-model-boxes" onClick={() => void send("confirm")}>
                  The model's boxes
                </button>
                <button type="button" class="primary" data-testid="store-my-boxes" autoFocus onClick={() => {
                  setVerdict("correct");
                  void send("correct");
                }}>My boxes (Corrected)</button>
              </div>
            </div>
          )}
          {unaccepted > 0 && verdict !== "unusable" && (
            <p class="banner banner-warn" role="status" data-testid="suggestions-warning">
              {plural(unaccepted, "suggestion", "suggestions")} not accepted — {unaccepted === 1 ? "it" : "they"} will
              not be stored. Press <kbd>a</kbd> to accept all.
            </p>
          )}
          <label>
            Note
            <textarea value={note} data-testid="note" rows={2} maxLength={4000}
                      onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          <div class="row">
            <button type="button" class="primary" onClick={submit} disabled={busy || lease.lost}
                    data-testid="submit" aria-keyshortcuts="s">Submit (s)</button>
            <button type="button" onClick={() => setSkipping(true)} disabled={busy} data-testid="skip"
                    aria-keyshortcuts="k">Skip (k)</button>
          </div>
        </section>
      </aside>
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
      {skipping && <SkipDialog onSkip={skip} onCancel={() => setSkipping(false)} />}
    </div>
  );
}
