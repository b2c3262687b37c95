/** One WebSocket per project with reconnect and capped exponential backoff; typed listeners, no polling. */

import { type MessageOf, type MessageType, type ProjectMessage, parseMessage } from "./messages";

export type ConnectionState = "connecting" | "open" | "closed" | "forbidden";
type Listener = (message: ProjectMessage) => void;

/** Application close codes (reviewer/consumers.py): retrying would not help. 4403 also ends the socket of a
 * member removed from the project while connected. */
const FATAL_CLOSE_CODES = new Set([4401, 4403]);

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to 30 s, with ±20 % jitter. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 500 * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

export function projectSocketUrl(projectId: number, location: Location = window.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/projects/${projectId}/`;
}

export class ProjectSocket {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  state: ConnectionState = "connecting";

  constructor(private readonly url: string) {
    this.connect();
  }

  /** Listen to one message type; returns the unsubscribe function. */
  on<T extends MessageType>(type: T, handler: (message: MessageOf<T>) => void): () => void {
    const listener: Listener = (message) => {
      if (message.type === type) handler(message as MessageOf<T>);
    };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(handler: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(handler);
    return () => this.stateListeners.delete(handler);
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const handler of this.stateListeners) handler(state);
  }

  private connect(): void {
    this.setState("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setState("open");
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      const message = parseMessage(event.data);
      if (message) for (const listener of this.listeners) listener(message);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.stopped || this.socket !== socket) return;
      if (FATAL_CLOSE_CODES.has(event.code)) {
        this.setState("forbidden");
        return;
      }
      this.setState("closed");
      // The server sends a fresh queue.stats snapshot on every connect, so a reconnect repairs the view.
      this.timer = setTimeout(() => this.connect(), backoffDelay(this.attempt++));
    };
  }
}
