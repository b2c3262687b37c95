/** Who is signed in, shared by the views. */

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Me } from "./api/shapes";

export interface Session {
  me: Me;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in view");
  return session;
}
