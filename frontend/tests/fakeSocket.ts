/** A WebSocket stand-in for view tests: the last one made is `FakeSocket.last`; `push` delivers a message. */
export class FakeSocket {
  static last: FakeSocket | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(readonly url: string) { FakeSocket.last = this; }
  close() {}
  push(message: object) { this.onmessage?.({ data: JSON.stringify(message) }); }
}
