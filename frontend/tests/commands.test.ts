import { describe, expect, it } from "vitest";
import { COMMANDS, findCommand } from "../src/editor/commands";
import { backoffDelay } from "../src/realtime/socket";
import { parseMessage } from "../src/realtime/messages";

const key = (k: string, mods: Partial<{ shiftKey: boolean; ctrlKey: boolean; metaKey: boolean }> = {}) => ({
  key: k, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...mods,
});

describe("command table", () => {
  it("declares each shortcut once", () => {
    const chords = COMMANDS.flatMap((c) => c.keys.map((k) => `${k.mod ? "M" : ""}${k.shift ? "S" : ""}${k.key}`));
    expect(new Set(chords).size).toBe(chords.length);
  });

  it("finds commands by key, modifiers included", () => {
    expect(findCommand(key("z", { ctrlKey: true }))?.id).toBe("undo");
    expect(findCommand(key("Z", { ctrlKey: true, shiftKey: true }))?.id).toBe("redo");
    expect(findCommand(key("3"))?.run).toEqual({ type: "set_label", index: 2 });
    expect(findCommand(key("?", { shiftKey: true }))?.id).toBe("help");
    expect(findCommand(key("ArrowLeft", { shiftKey: true }))?.id).toBe("left_fast");
    expect(findCommand(key("q"))).toBeUndefined();
  });
});

describe("realtime", () => {
  it("backs off exponentially up to 30 s", () => {
    expect(backoffDelay(0, () => 0.5)).toBe(500);
    expect(backoffDelay(3, () => 0.5)).toBe(4000);
    expect(backoffDelay(20, () => 0.5)).toBe(30000);
  });

  it("parses known messages and drops the rest", () => {
    expect(parseMessage('{"type":"item.accepted","item":3}')).toEqual({ type: "item.accepted", item: 3 });
    expect(parseMessage('{"type":"pong"}')).toBeNull();
    expect(parseMessage("not json")).toBeNull();
  });
});
