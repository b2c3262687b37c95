/** One socket per open project, shared by its views through context; closed when the project is left. */

import { type ComponentChildren, createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { MessageOf, MessageType } from "./messages";
import { type ConnectionState, ProjectSocket, projectSocketUrl } from "./socket";

const SocketContext = createContext<ProjectSocket | null>(null);

export function ProjectLive({ project, children }: { project: number; children: ComponentChildren }) {
  const [socket, setSocket] = useState<ProjectSocket | null>(null);
  useEffect(() => {
    const s = new ProjectSocket(projectSocketUrl(project));
    setSocket(s);
    return () => s.close();
  }, [project]);
  return <SocketContext.Provider value={socket}>{children}</SocketContext.Provider>;
}

/** Call `handler` for every `type` message of the current project. */
export function useProjectMessage<T extends MessageType>(type: T, handler: (message: MessageOf<T>) => void): void {
  const socket = useContext(SocketContext);
  useEffect(() => (socket ? socket.on(type, handler) : undefined), [socket, type, handler]);
}

export function useConnectionState(): ConnectionState {
  const socket = useContext(SocketContext);
  const [state, setState] = useState<ConnectionState>(socket?.state ?? "connecting");
  useEffect(() => {
    if (!socket) return undefined;
    setState(socket.state);
    return socket.onState(setState);
  }, [socket]);
  return state;
}

export function ConnectionBadge() {
  const state = useConnectionState();
  const text: Record<ConnectionState, string> = {
    connecting: "Connecting…", open: "Live", closed: "Reconnecting…", forbidden: "Not allowed",
  };
  return (
    <span class={`badge badge-${state}`} data-testid="ws-status" role="status" aria-live="polite">
      {text[state]}
    </span>
  );
}
