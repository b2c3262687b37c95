/** The box editor for one claimed frame item (mount it keyed by the item id): canvas, panels, lease, submit, skip. */

import { useEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import type { components } from "../../api/schema";
import type { ClaimedItem, Verdict } from "../../api/shapes";
import type { Effect } from "../../editor/commands";
import { boxCaption } from "../../editor/draw";
import { boxesFromDetections, editorReducer, initialState, submittedBoxes } from "../../editor/state";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { BoxList, ClassPicker, ItemReason, ShortcutHelp } from "./EditorPanels";
import { EditorCanvas } from "./EditorCanvas";
import { drawCommentPin } from "./drawPin";
import { handleEditorKey, useDocumentKeys } from "./keyboard";
import { LeaseCountdown, useLease } from "./useLease";
import { ApiError } from "../../api/errors";
import { listPrelabels, runPrelabel } from "../../api/endpoints";
import { markSubmit } from "../../perf";

export type SubmitBody = components["schemas"]["SubmitBody"];

interface Props {
  item: ClaimedItem;
  image: HTMLImageElement;
  labels: readonly string[];
  onSubmit: (body: SubmitBody) => Promise<void>;
  onSkip: () => Promise<void>;
}

export function FrameEditor({ item, image, labels, onSubmit, onSkip }: Props) {
  const pin = item.last_comment_region;
  // Mounted once per item (keyed by its id): the first render already shows the item's boxes.
  const [state, dispatch] = useReducer(editorReducer, null, () => editorReducer(initialState(labels), {
    type: "load", image: { w: item.asset?.width ?? image.naturalWidth, h: item.asset?.height ?? image.naturalHeight },
    boxes: boxesFromDetections(item.prelabel?.boxes ?? []), labels,
  }));
  const [help, setHelp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [leaseLost, setLeaseLost] = useState(false);
  const [verdict, setVerdict] = useState<Verdict>("correct");
  const [note, setNote] = useState("");
  const startedAt = useRef(new Date());
  const canvasHost = useRef<HTMLDivElement>(null);
  const lease = useLease(item, leaseLost);

  useEffect(() => {
    canvasHost.current?.querySelector<HTMLElement>("[data-testid=editor-canvas]")?.focus();
  }, []);

  const [serverBusy, setServerBusy] = useState(false);
  /** The server champion's boxes for this frame (run now if it has not run yet), added as pre-labels. */
  const addServerBoxes = async () => {
    setServerBusy(true);
    setError(null);
    try {
      const done = (await listPrelabels(item.id)).find((r) => r.status === "done" && r.model.status === "champion");
      const run = done ?? await runPrelabel(item.id);
      if (run.status !== "done") throw new Error(`The server model failed on this frame: ${run.error}`);
      const onFrame = (run.boxes as { label: string; score: number; box: number[] }[])
        .filter((b) => labels.includes(b.label));
      dispatch({ type: "add_prelabels", boxes: boxesFromDetections(onFrame) });
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
  const submit = () => act(() => {
    markSubmit(image);
    return onSubmit({ lease_token: item.lease_token, boxes: submittedBoxes(state), verdict, note,
                      started_at: startedAt.current.toISOString() });
  });
  const skip = () => act(onSkip);
  const onEffect = (effect: Effect) => {
    if (effect === "submit") void submit();
    else if (effect === "skip") void skip();
    else setHelp((h) => !h);
  };

  useDocumentKeys((e) => {
    if (!help) {
      handleEditorKey(e, dispatch, onEffect);
    } else if (e.key === "Escape" || e.key === "?") {
      e.preventDefault();
      setHelp(false); // the overlay is modal: Esc and ? close it, other keys wait
    }
  });

  const g = state.gesture;
  const listBoxes = g.kind === "moving" || g.kind === "resizing" ? g.mark.boxes : state.boxes;
  const selected = state.boxes.find((b) => b.id === state.selectedId);
  // The same vnode while a drag runs (the mark's boxes): Preact skips it, so 500 list rows are not re-diffed.
  const boxList = useMemo(() => <BoxList boxes={listBoxes} selectedId={state.selectedId} dispatch={dispatch} />,
                          [listBoxes, state.selectedId]);
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
          <button type="button" onClick={() => dispatch({ type: "accept_all" })} data-testid="accept-all">
            Accept all pre-labels
          </button>
          <label>
            <input type="checkbox" checked={state.showPrelabels} data-testid="prelabel-toggle"
                   onChange={() => dispatch({ type: "toggle_prelabels" })} /> Show pre-labels
          </label>
          <button type="button" disabled={serverBusy} data-testid="server-prelabels"
                  title="Run the project's champion on this frame on the server and add its boxes as pre-labels"
                  onClick={() => void addServerBoxes()}>
            {serverBusy ? "Running server model…" : "Server model boxes"}
          </button>
          <button type="button" onClick={() => setHelp(true)} data-testid="help-toggle" aria-keyshortcuts="?">
            Shortcuts
          </button>
        </div>
      </div>
      <aside class="editor-side">
        <LeaseCountdown lease={lease} />
        <ErrorBanner error={error ?? lease.error} />
        <ItemReason item={item} />
        <ClassPicker labels={labels} active={state.activeLabel} dispatch={dispatch} />
        {boxList}
        <section class="card stack" aria-label="Submit">
          <label>
            Verdict
            <select value={verdict} data-testid="verdict" onChange={(e) => setVerdict(e.currentTarget.value as Verdict)}>
              <option value="correct">Corrected / checked</option>
              <option value="confirm">Model was right</option>
              <option value="unusable">Unusable image</option>
            </select>
          </label>
          <label>
            Note
            <textarea value={note} data-testid="note" maxLength={4000} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          <div class="row">
            <button type="button" class="primary" onClick={() => void submit()} disabled={busy || lease.lost}
                    data-testid="submit" aria-keyshortcuts="s">Submit (s)</button>
            <button type="button" onClick={() => void skip()} disabled={busy} data-testid="skip"
                    aria-keyshortcuts="k">Skip (k)</button>
          </div>
        </section>
      </aside>
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
    </div>
  );
}
