/** QA's side panels: the decision, what changed (legend and counts), the submitted version, the other versions. */

import type { Ref } from "preact";
import type { AnnotationVersion } from "../../api/shapes";
import { authorOf } from "../../api/shapes";
import { type LabelledBox, agreement } from "../../editor/agreement";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { BoxesPreview } from "./BoxesPreview";
import { DIFF_KINDS, type DiffKind, describeDiff } from "./diff";
import { DIFF_STYLE } from "./drawDiff";

export function DecisionPanel({ edited, busy, comment, setComment, region, onUnpin, pinning, onPin, onDecide, onNext,
                                commentRef, error }: {
  edited: boolean; busy: boolean; comment: string; setComment: (v: string) => void; region: number[] | null;
  onUnpin: () => void; pinning: boolean; onPin: () => void; onDecide: (d: "accept" | "reject") => void;
  onNext: () => void; commentRef: Ref<HTMLTextAreaElement>; error: unknown;
}) {
  return (
    <section class="card stack" aria-label="Decision">
      <div class="row">
        <button type="button" class="primary" data-testid="qa-accept" disabled={busy} aria-keyshortcuts="a"
                onClick={() => onDecide("accept")}>{edited ? "Fix and accept (a)" : "Accept (a)"}</button>
        <button type="button" class="danger" data-testid="qa-reject" disabled={busy} aria-keyshortcuts="r"
                onClick={() => onDecide("reject")}>Reject (r)</button>
        <button type="button" data-testid="qa-next" disabled={busy} aria-keyshortcuts="n" onClick={onNext}>
          Next (n)</button>
      </div>
      {edited && <p class="hint" data-testid="qa-edited">You changed boxes: accepting stores your version.</p>}
      <label>
        Comment (required to reject; the annotator sees it on the returned item · Ctrl+Enter rejects)
        <textarea ref={commentRef} value={comment} maxLength={4000} data-testid="qa-comment"
                  onInput={(e) => setComment(e.currentTarget.value)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
                      e.preventDefault();
                      onDecide("reject");
                    } else if (e.key === "Escape") {
                      e.currentTarget.blur();
                    }
                  }} />
      </label>
      {region ? (
        <p data-testid="qa-region">
          Pinned to x {region[0]}, y {region[1]}, {region[2]}×{region[3]} px{" "}
          <button type="button" onClick={onUnpin} data-testid="qa-region-clear">Unpin</button>
        </p>
      ) : (
        <button type="button" aria-pressed={pinning} data-testid="qa-pin" onClick={onPin} aria-keyshortcuts="m">
          {pinning ? "Drag on the image to mark the region… (m cancels)" : "Pin the comment to a region (m)"}
        </button>
      )}
      <ErrorBanner error={error} />
    </section>
  );
}

export function DiffLegend({ show, onToggle, title, counts, fix }: {
  show: boolean; onToggle: () => void; title: string; counts: Record<DiffKind, number>;
  /** What the reviewer changed vs the submitted version, once they have. */
  fix: string | null;
}) {
  return (
    <section class="card stack" aria-label="What changed" data-testid="qa-diff-legend">
      <label class="inline">
        <input type="checkbox" checked={show} onChange={onToggle} data-testid="qa-diff-toggle"
               aria-keyshortcuts="d" /> Show what changed (d)
      </label>
      <p class="hint">{title}: {describeDiff(counts)}</p>
      <ul class="diff-legend">
        {DIFF_KINDS.map((kind) => (
          <li key={kind} data-testid={`qa-diff-${kind}`}>
            <span class="swatch" style={{ background: DIFF_STYLE[kind].color }} aria-hidden="true" />
            {counts[kind]} {DIFF_STYLE[kind].label}
          </li>
        ))}
      </ul>
      {fix !== null && <p data-testid="qa-fix-summary"><strong>Your fix</strong> vs the submitted version: {fix}</p>}
    </section>
  );
}

/** `countFlag`: a manager's count flag is judged by its counts (shown beside), not by box agreement. */
export function SubmittedPanel({ latest, prelabel, countFlag = false }: {
  latest: AnnotationVersion; prelabel: readonly LabelledBox[]; countFlag?: boolean;
}) {
  return (
    <section class="card" aria-label="Submitted version" data-testid="qa-latest">
      <h2>v{latest.version} by {authorOf(latest)}</h2>
      <p>Verdict {latest.verdict}{latest.count !== null ? ` · count ${latest.count}` : ""} · {latest.boxes.length} boxes</p>
      {latest.note && <p class="note" data-testid="qa-note">Note: {latest.note}</p>}
      {!countFlag && <p data-testid="qa-agreement-prelabel">
        Agreement with the model: {(agreement(latest.boxes, prelabel) * 100).toFixed(0)} %</p>}
    </section>
  );
}

/** The model's pre-label and the earlier versions, small and read-only, side by side with what is edited. */
export function VersionList({ url, size, labels, prelabel, older, latest }: {
  url: string; size: { w: number; h: number }; labels: readonly string[]; prelabel: readonly LabelledBox[];
  older: readonly AnnotationVersion[]; latest: AnnotationVersion | undefined;
}) {
  return (
    <section class="card stack" aria-label="Versions">
      <BoxesPreview url={url} size={size} labels={labels} testId="qa-prelabel" title="Model pre-label"
                    boxes={prelabel.map((d) => ({ label: d.label, box: d.box, dashed: true }))} />
      {older.map((v) => (
        <div key={v.id}>
          <BoxesPreview url={url} size={size} labels={labels} testId={`qa-version-${v.version}`}
                        title={`v${v.version} by ${authorOf(v)}`} boxes={v.boxes} />
          {latest && <p>Agreement with v{latest.version}: {(agreement(latest.boxes, v.boxes) * 100).toFixed(0)} %</p>}
        </div>
      ))}
    </section>
  );
}
