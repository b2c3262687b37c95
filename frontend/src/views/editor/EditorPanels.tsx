/** The editor's side panels: why the item is here, the class picker, the box list, the shortcut help. */

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

export function ItemReason({ item }: { item: ClaimedItem }) {
  return (
    <section class="card" aria-label="Why this item">
      <h2>Why this item</h2>
      <p data-testid="item-reason">{item.reason} · priority {item.priority.toFixed(3)}</p>
      {Object.keys(item.score_parts).length > 0 && (
        <table data-testid="score-parts">
          <tbody>
            {Object.entries(item.score_parts).map(([k, v]) => (
              <tr key={k}><th scope="row">{k}</th><td>{formatPart(v)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {item.prelabel && <p>Model {item.prelabel.model.name} v{item.prelabel.model.version}</p>}
      {item.last_comment && (
        <p class="banner banner-warn" data-testid="last-comment">
          Reviewer: {item.last_comment}
          {item.last_comment_region && <> (pinned to the <span class="pin-swatch">orange</span> region
            {item.last_comment_region.frame_index !== null ? ` on frame ${item.last_comment_region.frame_index}` : ""})</>}
        </p>
      )}
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
