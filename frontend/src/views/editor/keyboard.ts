/** Route a key press to the command table, unless the user is typing in a form field. */

import { useLayoutEffect, useRef } from "preact/hooks";
import { type Command, type Effect, findCommand } from "../../editor/commands";
import type { EditorAction } from "../../editor/state";

export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

export function handleEditorKey<E extends string = Effect>(event: KeyboardEvent, dispatch: (a: EditorAction) => void,
                                                          onEffect: (effect: E) => void,
                                                          commands?: readonly Command<E>[]): boolean {
  if (isTyping(event.target)) return false;
  const command = findCommand(event, commands);
  if (!command) return false;
  event.preventDefault();
  if ("effect" in command.run) onEffect(command.run.effect);
  else dispatch(command.run);
  return true;
}

/**
 * Listen to keys on the whole document while the editor is mounted, so shortcuts work wherever the focus is
 * (after a toolbar click, a closed dialog, a new item); the latest handler is always the one called.
 */
export function useDocumentKeys(handler: (event: KeyboardEvent) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  // A layout effect: registered as the editor appears, so a key pressed right away is not lost.
  useLayoutEffect(() => {
    const listener = (event: KeyboardEvent) => {
      if (!event.defaultPrevented) latest.current(event);
    };
    document.addEventListener("keydown", listener);
    return () => document.removeEventListener("keydown", listener);
  }, []);
}
