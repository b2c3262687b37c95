/**
 * QA's commands, declared once with their shortcuts: the keyboard handler and the help overlay read this table
 * (as the editor's do, src/editor/commands.ts). The decision keys come first; the box editing keys are the
 * editor's, so a reviewer fixes a box with the same hands as an annotator.
 */

import { COMMANDS, type Command } from "../../editor/commands";

export type QaEffect = "accept" | "reject" | "next" | "toggle_diff" | "pin" | "help";

/** The editor's commands QA keeps as they are (its a / n / s / k mean other things here). */
const EDITING = new Set(["delete", "add_box", "undo", "redo", "zoom_in", "zoom_out", "fit", "cancel", "left",
  "right", "up", "down", "left_fast", "right_fast", "up_fast", "down_fast", "wider", "narrower", "taller",
  "shorter", ...Array.from({ length: 9 }, (_, i) => `label_${i + 1}`)]);

export const QA_COMMANDS: readonly Command<QaEffect>[] = [
  { id: "accept", label: "Accept (with your fixes, if you changed boxes) and open the next item",
    keys: [{ key: "a" }], run: { effect: "accept" } },
  { id: "reject", label: "Reject: write the comment (Ctrl+Enter sends it)", keys: [{ key: "r" }],
    run: { effect: "reject" } },
  { id: "next", label: "Next item without deciding", keys: [{ key: "n" }], run: { effect: "next" } },
  { id: "toggle_diff", label: "Show/hide what changed (diff overlay)", keys: [{ key: "d" }],
    run: { effect: "toggle_diff" } },
  { id: "pin", label: "Mark the region the comment is about (then drag on the image)", keys: [{ key: "m" }],
    run: { effect: "pin" } },
  { id: "next_box", label: "Select next box", keys: [{ key: "]" }], run: { type: "select_next" } },
  { id: "prev_box", label: "Select previous box", keys: [{ key: "[" }], run: { type: "select_prev" } },
  ...COMMANDS.filter((c) => EDITING.has(c.id)) as unknown as Command<QaEffect>[],
  { id: "help", label: "Show/hide shortcuts", keys: [{ key: "?" }], run: { effect: "help" } },
];
