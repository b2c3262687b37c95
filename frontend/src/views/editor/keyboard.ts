/** Route a key press to the command table, unless the user is typing in a form field. */

import { type Command, type Effect, findCommand } from "../../editor/commands";
import type { EditorAction } from "../../editor/state";

export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

export function handleEditorKey(event: KeyboardEvent, dispatch: (a: EditorAction) => void,
                                onEffect: (effect: Effect) => void, commands?: readonly Command[]): boolean {
  if (isTyping(event.target)) return false;
  const command = findCommand(event, commands);
  if (!command) return false;
  event.preventDefault();
  if ("effect" in command.run) onEffect(command.run.effect);
  else dispatch(command.run);
  return true;
}
