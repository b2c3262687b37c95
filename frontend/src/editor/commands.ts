/**
 * Every editor command, declared once with its shortcut: the keyboard handler and the help overlay both
 * read this table. A command either dispatches a reducer action or asks the view for an effect.
 */

import type { EditorAction } from "./state";

export type Effect = "submit" | "skip" | "help";

export interface KeyChord {
  key: string;
  shift?: boolean;
  /** Ctrl on Linux/Windows, Cmd on macOS. */
  mod?: boolean;
}

/** `E`: the effects a view handles (the editor's by default; QA declares its own table with its own effects). */
export interface Command<E extends string = Effect> {
  id: string;
  label: string;
  keys: readonly KeyChord[];
  run: EditorAction | { effect: E };
}

const NUDGE = 1;
const NUDGE_FAST = 10;

export const COMMANDS: readonly Command[] = [
  { id: "next_box", label: "Select next box", keys: [{ key: "n" }], run: { type: "select_next" } },
  { id: "prev_box", label: "Select previous box", keys: [{ key: "p" }],
    run: { type: "select_prev" } },
  { id: "delete", label: "Delete selected box", keys: [{ key: "Delete" }, { key: "Backspace" }],
    run: { type: "delete_selected" } },
  { id: "add_box", label: "Add a box in the middle of the view", keys: [{ key: "b" }], run: { type: "add_box" } },
  { id: "accept_all", label: "Accept all suggestions (dashed boxes)", keys: [{ key: "a" }],
    run: { type: "accept_all" } },
  { id: "toggle_prelabels", label: "Show/hide suggestions", keys: [{ key: "h" }],
    run: { type: "toggle_prelabels" } },
  { id: "undo", label: "Undo", keys: [{ key: "z", mod: true }], run: { type: "undo" } },
  { id: "redo", label: "Redo", keys: [{ key: "z", mod: true, shift: true }, { key: "y", mod: true }],
    run: { type: "redo" } },
  { id: "zoom_in", label: "Zoom in", keys: [{ key: "+" }, { key: "=" }], run: { type: "zoom", factor: 1.25 } },
  { id: "zoom_out", label: "Zoom out", keys: [{ key: "-" }], run: { type: "zoom", factor: 0.8 } },
  { id: "fit", label: "Zoom to fit", keys: [{ key: "0" }, { key: "f" }], run: { type: "fit" } },
  { id: "brighter", label: "Brighter image", keys: [{ key: "]" }], run: { type: "adjust_image", brightness: 1.25 } },
  { id: "darker", label: "Darker image", keys: [{ key: "[" }], run: { type: "adjust_image", brightness: 0.8 } },
  { id: "more_contrast", label: "More contrast", keys: [{ key: "}" }], run: { type: "adjust_image", contrast: 1.25 } },
  { id: "less_contrast", label: "Less contrast", keys: [{ key: "{" }], run: { type: "adjust_image", contrast: 0.8 } },
  { id: "reset_image", label: "Image as captured (reset brightness/contrast)", keys: [{ key: "\\" }],
    run: { type: "reset_image" } },
  { id: "cancel", label: "Cancel the gesture / deselect", keys: [{ key: "Escape" }], run: { type: "cancel" } },
  { id: "left", label: "Move box left (Shift: 10 px)", keys: [{ key: "ArrowLeft" }],
    run: { type: "nudge", dx: -NUDGE, dy: 0, resize: false } },
  { id: "right", label: "Move box right", keys: [{ key: "ArrowRight" }],
    run: { type: "nudge", dx: NUDGE, dy: 0, resize: false } },
  { id: "up", label: "Move box up", keys: [{ key: "ArrowUp" }], run: { type: "nudge", dx: 0, dy: -NUDGE, resize: false } },
  { id: "down", label: "Move box down", keys: [{ key: "ArrowDown" }],
    run: { type: "nudge", dx: 0, dy: NUDGE, resize: false } },
  { id: "left_fast", label: "Move box left 10 px", keys: [{ key: "ArrowLeft", shift: true }],
    run: { type: "nudge", dx: -NUDGE_FAST, dy: 0, resize: false } },
  { id: "right_fast", label: "Move box right 10 px", keys: [{ key: "ArrowRight", shift: true }],
    run: { type: "nudge", dx: NUDGE_FAST, dy: 0, resize: false } },
  { id: "up_fast", label: "Move box up 10 px", keys: [{ key: "ArrowUp", shift: true }],
    run: { type: "nudge", dx: 0, dy: -NUDGE_FAST, resize: false } },
  { id: "down_fast", label: "Move box down 10 px", keys: [{ key: "ArrowDown", shift: true }],
    run: { type: "nudge", dx: 0, dy: NUDGE_FAST, resize: false } },
  { id: "wider", label: "Widen box", keys: [{ key: "ArrowRight", mod: true }],
    run: { type: "nudge", dx: NUDGE_FAST, dy: 0, resize: true } },
  { id: "narrower", label: "Narrow box", keys: [{ key: "ArrowLeft", mod: true }],
    run: { type: "nudge", dx: -NUDGE_FAST, dy: 0, resize: true } },
  { id: "taller", label: "Make box taller", keys: [{ key: "ArrowDown", mod: true }],
    run: { type: "nudge", dx: 0, dy: NUDGE_FAST, resize: true } },
  { id: "shorter", label: "Make box shorter", keys: [{ key: "ArrowUp", mod: true }],
    run: { type: "nudge", dx: 0, dy: -NUDGE_FAST, resize: true } },
  ...Array.from({ length: 9 }, (_, i): Command => ({
    id: `label_${i + 1}`, label: `Class ${i + 1} for the selected / next box`, keys: [{ key: String(i + 1) }],
    run: { type: "set_label", index: i },
  })),
  { id: "submit", label: "Submit and take the next item", keys: [{ key: "Enter", mod: true }, { key: "s" }],
    run: { effect: "submit" } },
  { id: "skip", label: "Skip (asks why; Enter skips without a reason)", keys: [{ key: "k" }], run: { effect: "skip" } },
  { id: "help", label: "Show/hide shortcuts", keys: [{ key: "?" }], run: { effect: "help" } },
];

export interface KeyLike {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

function matches(chord: KeyChord, event: KeyLike): boolean {
  const mod = event.ctrlKey || event.metaKey;
  if (Boolean(chord.mod) !== mod || event.altKey) return false;
  // "?" and "+" need Shift on most layouts: for printable keys only the character decides.
  if (chord.key.length === 1 && !/[a-z0-9]/i.test(chord.key)) return event.key === chord.key;
  if (Boolean(chord.shift) !== event.shiftKey) return false;
  return event.key.length === 1 ? event.key.toLowerCase() === chord.key.toLowerCase() : event.key === chord.key;
}

export function findCommand<E extends string = Effect>(event: KeyLike,
                                                       commands?: readonly Command<E>[]): Command<E> | undefined {
  const table = commands ?? (COMMANDS as unknown as readonly Command<E>[]);
  return table.find((c) => c.keys.some((chord) => matches(chord, event)));
}

export function describeChord(chord: KeyChord): string {
  const names: Record<string, string> = { ArrowLeft: "←", ArrowRight: "→", ArrowUp: "↑", ArrowDown: "↓", " ": "Space" };
  return [chord.mod ? "Ctrl" : "", chord.shift ? "Shift" : "", names[chord.key] ?? chord.key].filter(Boolean).join("+");
}
