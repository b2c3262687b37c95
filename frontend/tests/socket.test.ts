import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ProjectSocket } from "../src/realtime/socket";

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) { FakeSocket.all.push(this); }
  close() { this.closed = true; }
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", FakeSocket);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("the project socket", () => {
  it("dispatches typed messages to the listeners of their type", () => {
    const socket = new ProjectSocket("ws://h/ws/projects/1/");
    const stats = vi.fn();
    const accepted = vi.fn();
    socket.on("queue.stats", stats);
    socket.on("item.accepted", accepted);
    const ws = FakeSocket.all[0]!;
    ws.onopen?.();
    ws.onmessage?.({ data: '{"type":"item.accepted","item":4}' });
    ws.onmessage?.({ data: '{"type":"queue.stats","pending":3}' });
    expect(accepted).toHaveBeenCalledWith({ type: "item.accepted", item: 4 });
    expect(stats).toHaveBeenCalledTimes(1);
    expect(socket.state).toBe("open");
  });

  it("reconnects after a drop with growing delays, and resets them once connected", () => {
    const socket = new ProjectSocket("ws://h/ws/projects/1/");
    FakeSocket.all[0]!.onclose?.({ code: 1006 });
    expect(socket.state).toBe("closed");
    vi.advanceTimersByTime(700);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.onclose?.({ code: 1006 });
    vi.advanceTimersByTime(700);
    expect(FakeSocket.all).toHaveLength(2); // second delay is ~1 s
    vi.advanceTimersByTime(600);
    expect(FakeSocket.all).toHaveLength(3);
    FakeSocket.all[2]!.onopen?.();
    FakeSocket.all[2]!.onclose?.({ code: 1006 });
    vi.advanceTimersByTime(700);
    expect(FakeSocket.all).toHaveLength(4);
    socket.close();
  });

  it("stops on 4401/4403 and after close()", () => {
    const refused = new ProjectSocket("ws://h/ws/projects/9/");
    FakeSocket.all[0]!.onclose?.({ code: 4403 });
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(refused.state).toBe("forbidden");
    const closed = new ProjectSocket("ws://h/ws/projects/1/");
    closed.close();
    FakeSocket.all[1]!.onclose?.({ code: 1000 });
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(2);
  });
});
