/** A tiny hash router: the server only ever serves index.html, and deep links survive reloads. */

import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "login" }
  | { name: "home" }
  | { name: "dashboard"; project: number }
  /** `reason`: claim only items queued for it (the operator's disputed clips). */
  | { name: "work"; project: number; reason: string | null }
  | { name: "counts"; project: number; camera: number | null }
  | { name: "numbers"; project: number }
  | { name: "qa"; project: number; item: number | null }
  | { name: "history"; project: number; item: number }
  | { name: "devices"; project: number }
  | { name: "device"; project: number; device: number }
  | { name: "models"; project: number }
  | { name: "webhooks"; project: number }
  | { name: "drift"; project: number }
  | { name: "routing"; project: number }
  | { name: "members"; project: number }
  | { name: "settings"; project: number }
  | { name: "alerts"; project: number }
  | { name: "imports"; project: number }
  | { name: "labelstudio"; project: number }
  | { name: "not_found" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : null);
  if (parts.length === 0) return { name: "home" };
  if (parts[0] === "login") return { name: "login" };
  if (parts[0] !== "projects") return { name: "not_found" };
  const project = num(parts[1]);
  if (project === null) return { name: "not_found" };
  const [, , section, arg, leaf] = parts;
  if (section === undefined) return { name: "dashboard", project };
  if (section === "work") return { name: "work", project, reason: arg && /^[a-z_]+$/.test(arg) ? arg : null };
  if (section === "devices" && num(arg) !== null) return { name: "device", project, device: num(arg)! };
  if (section === "devices") return { name: "devices", project };
  if (section === "models") return { name: "models", project };
  if (section === "webhooks") return { name: "webhooks", project };
  if (section === "drift") return { name: "drift", project };
  if (section === "routing") return { name: "routing", project };
  if (section === "members") return { name: "members", project };
  if (section === "settings") return { name: "settings", project };
  if (section === "alerts") return { name: "alerts", project };
  if (section === "imports") return { name: "imports", project };
  if (section === "labelstudio") return { name: "labelstudio", project };
  if (section === "numbers") return { name: "numbers", project };
  if (section === "counts") return { name: "counts", project, camera: num(arg) };
  if (section === "qa") return { name: "qa", project, item: num(arg) };
  if (section === "items" && num(arg) !== null && leaf === "history") return { name: "history", project, item: num(arg)! };
  if (section === "items" && num(arg) !== null && leaf === "qa") return { name: "qa", project, item: num(arg) };
  return { name: "not_found" };
}

export const href = {
  home: () => "#/",
  login: () => "#/login",
  dashboard: (project: number) => `#/projects/${project}`,
  work: (project: number, reason?: string) => `#/projects/${project}/work${reason ? `/${reason}` : ""}`,
  counts: (project: number, camera?: number) => `#/projects/${project}/counts${camera ? `/${camera}` : ""}`,
  numbers: (project: number) => `#/projects/${project}/numbers`,
  qa: (project: number, item?: number) => `#/projects/${project}/qa${item ? `/${item}` : ""}`,
  history: (project: number, item: number) => `#/projects/${project}/items/${item}/history`,
  devices: (project: number) => `#/projects/${project}/devices`,
  device: (project: number, device: number) => `#/projects/${project}/devices/${device}`,
  models: (project: number) => `#/projects/${project}/models`,
  webhooks: (project: number) => `#/projects/${project}/webhooks`,
  drift: (project: number) => `#/projects/${project}/drift`,
  routing: (project: number) => `#/projects/${project}/routing`,
  members: (project: number) => `#/projects/${project}/members`,
  settings: (project: number) => `#/projects/${project}/settings`,
  alerts: (project: number) => `#/projects/${project}/alerts`,
  imports: (project: number) => `#/projects/${project}/imports`,
  labelstudio: (project: number) => `#/projects/${project}/labelstudio`,
};

/** The uid and token of an invitation or password-reset link (`/set-password?uid=…&token=…`, served by Django
 * as the app shell), or null on any other page. */
export function setPasswordLink(pathname: string, search: string): { uid: string; token: string } | null {
  if (pathname.replace(/\/$/, "") !== "/set-password") return null;
  const query = new URLSearchParams(search);
  return { uid: query.get("uid") ?? "", token: query.get("token") ?? "" };
}

export function navigate(to: string): void {
  window.location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
