/**
 * The editor's side panels: the reviewer's comment on reworked work, the class picker, the box list, why the
 * item is here (collapsed: the work comes first), the skip reasons and the shortcut help.
 */

import { useEffect, useRef } from "preact/hooks";
import type { ClaimedItem } from "../../api/shapes";
import { type Command, COMMANDS, describeChord } from "../../editor/commands";
import { boxCaption, labelColor } from "../../editor/draw";
import type { EditorAction, EditorBox } from "../../editor/state";

function formatPart(value: unknown): string {
  if (typeof value === "number") return value.toFixed(3);
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(2) : String(v)}`).join(", ");
  }
  return String(value);
}

/** Why the queue chose this item: a collapsed panel under the work, the score table wrapping within it. */
export function ItemReason({ item }: { item: ClaimedItem }) {
  const model = item.prelabel?.model;
  return (
    <details class="card why" data-testid="why-item">
      <summary>Why this item: <span data-testid="item-reason">{item.reason} · priority {item.priority.toFixed(3)}</span></summary>
      {Object.keys(item.score_parts).length > 0 && (
        <table data-testid="score-parts" class="score-parts">
          <tbody>
            {Object.entries(item.score_parts).map(([k, v]) => (
              <tr key={k}><th scope="row">{k}</th><td>{formatPart(v)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {model && <p>Pre-label by {model.display_name ?? (model.name ? `${model.name}${model.version ? ` v${model.version}` : ""}` : "the field model")}</p>}
    </details>
  );
}

/**
 * The reviewer's word, on top and impossible to miss: for reworked work the rejected version it starts from,
 * and where on the frame the comment is pinned (the orange region on the canvas).
 */
export function ReviewerComment({ item }: { item: ClaimedItem }) {
  const rework = item.rework ?? null;
  const comment = rework ? rework.comment : item.last_comment;
  const region = rework ? rework.region : item.last_comment_region;
  if (!rework && !comment) return null;
  return (
    <section class="banner banner-warn reviewer-comment" aria-label="Reviewer's comment" data-testid="rework-banner">
      {rework && (
        <p class="rework-title" data-testid="rework-version">
          Rework: QA rejected version {rework.version}{rework.author ? ` by ${rework.author}` : ""}. You start from
          it ({rework.boxes.length} {rework.boxes.length === 1 ? "box" : "boxes"}).
        </p>
      )}
      {comment && (
        <p data-testid="last-comment">
          Reviewer: {comment}
          {region && <> (pinned to the <span class="pin-swatch">orange</span> region
            {region.frame_index !== null ? ` on frame ${region.frame_index}` : ""})</>}
        </p>
      )}
      {rework?.note && <p class="hint">Your note on it: {rework.note}</p>}
    </section>
  );
}

export function ClassPicker({ labels, active, dispatch }: {
  labels: readonly string[]; active: string; dispatch: (a: EditorAction) => void;
}) {
  return (
    <fieldset class="card">
      <legend>Class (keys 1–9)</legend>
      {labels.map((label, i) => (
        <label key={label} class="class-option">
          <input type="radio" name="class" checked={label === active} data-testid={`label-option-${i + 1}`}
                 onChange={() => dispatch({ type: "set_label", index: i })} />
          <span class="swatch" style={{ background: labelColor(labels, label) }} aria-hidden="true" />
          {i < 9 ? `${i + 1} ` : ""}{label}
        </label>
      ))}
    </fieldset>
  );
}

/** Render it through `useMemo` on the boxes array: a drag reuses the mark's array, so the list stays put. */
export function BoxList({ boxes, selectedId, dispatch }: {
  boxes: readonly EditorBox[]; selectedId: number | null; dispatch: (a: EditorAction) => void;
}) {
  const shown = boxes.slice(0, 200);
  return (
    <section class="card" aria-label="Boxes">
      <h2>Boxes ({boxes.length})</h2>
      <ul class="box-list" data-testid="box-list">
        {shown.map((b) => (
          <li key={b.id}>
            <button type="button" aria-pressed={b.id === selectedId} onClick={() => dispatch({ type: "select", id: b.id })}>
              {boxCaption(b)} · {Math.round(b.w)}×{Math.round(b.h)}
            </button>
          </li>
        ))}
      </ul>
      {boxes.length > shown.length && <p>… and {boxes.length - shown.length} more (use n / p).</p>}
    </section>
  );
}

/** The shortcuts of `commands` (the editor's by default), read from the one command table. */
export function ShortcutHelp({ onClose, commands = COMMANDS }: {
  onClose: () => void; commands?: readonly Pick<Command<string>, "id" | "label" | "keys">[];
}) {
  return (
    <div class="dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" data-testid="help-overlay">
      <h2>Keyboard shortcuts</h2>
      <table>
        <tbody>
          {commands.map((c) => (
            <tr key={c.id}><th scope="row">{c.keys.map(describeChord).join(" / ")}</th><td>{c.label}</td></tr>
          ))}
          <tr><th scope="row">Space+drag / middle drag / wheel</th><td>Pan / zoom at the pointer</td></tr>
        </tbody>
      </table>
      <button type="button" onClick={onClose} autoFocus>Close</button>
    </div>
  );
}

export const SKIP_REASONS = ["Can't tell", "Needs another expert", "Image problem", "Other"] as const;

/**
 * Why skip? A small modal choice, quick by keyboard: Enter skips without a reason (k, Enter), 1–4 pick one,
 * Esc goes back to the item.
 */
export function SkipDialog({ onSkip, onCancel }: { onSkip: (reason: string) => void; onCancel: () => void }) {
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => first.current?.focus(), []);
  return (
    <div class="dialog dialog-small" role="dialog" aria-modal="true" aria-label="Skip this item"
         data-testid="skip-dialog">
      <h2>Skip this item</h2>
      <p class="hint">It goes to someone else and will not come back to you for a while. Why? (optional)</p>
      <div class="stack tight">
        <button type="button" ref={first} class="primary" data-testid="skip-confirm" onClick={() => onSkip("")}>
          Skip without a reason (Enter)
        </button>
        {SKIP_REASONS.map((reason, i) => (
          <button type="button" key={reason} data-testid={`skip-reason-${i + 1}`} onClick={() => onSkip(reason)}>
            {i + 1} · {reason}
          </button>
        ))}
        <button type="button" data-testid="skip-cancel" onClick={onCancel}>Back to the item (Esc)</button>
      </div>
    </div>
  );
}
