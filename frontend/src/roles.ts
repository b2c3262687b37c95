/**
 * What each role may open and is offered (annotations.models.Role): one table, read by the top bar, the home and
 * project pages and the guard that answers "not available for your role" instead of rendering a page whose API
 * would refuse it. Mirrors the backend's rules (reviewer/queue.py CLAIM_ROLES, reviewer/flags.py
 * FLAG_LIST_ROLES, the admin-only and admin/reviewer endpoints); the backend still decides every request.
 */

import type { Role } from "./api/shapes";
import { type Route, href } from "./router";

export type Page = Exclude<Route, { name: "login" | "home" | "not_found" }>["name"];

const EVERYONE: readonly Role[] = ["admin", "annotator", "reviewer", "manager", "operator"];

/** Who sees the project's alerts (activelearning/alerts/api.py VIEW_ROLES; managers and operators their sites'). */
export const ALERT_ROLES: readonly Role[] = ["admin", "reviewer", "manager", "operator"];

/** Who may open each project page. A page not listed here is open to every member (the API decides). */
export const PAGE_ROLES: Partial<Record<Page, readonly Role[]>> = {
  dashboard: EVERYONE,
  work: ["admin", "annotator", "operator"],
  qa: ["admin", "reviewer"],
  counts: ["admin", "reviewer", "manager", "operator"],
  numbers: ["admin", "reviewer", "manager", "operator"],
  models: ["admin", "reviewer"],
  drift: ["admin", "reviewer"],
  devices: ["admin"],
  device: ["admin"],
  routing: ["admin"],
  webhooks: ["admin"],
  members: ["admin"],
  settings: ["admin"],
  alerts: ALERT_ROLES,
  imports: ["admin"],
  labelstudio: ["admin"],
};

/** Whether `role` may open `page`; an unknown role (not a member) is left to the API's 404. */
export function mayOpen(page: Page, role: Role | undefined): boolean {
  if (role === undefined) return true;
  const allowed = PAGE_ROLES[page];
  return allowed === undefined || allowed.includes(role);
}

export interface NavLink {
  page: Page;
  label: string;
  to: (project: number) => string;
}

/** Each role's work, its main job first: the project page's first button is the primary action. */
export const ROLE_WORK: Record<Role, NavLink[]> = {
  admin: [
    { page: "work", label: "Annotate", to: href.work }, { page: "qa", label: "QA review", to: href.qa },
    { page: "counts", label: "Counts", to: href.counts }, { page: "numbers", label: "Numbers", to: href.numbers },
    { page: "models", label: "Models", to: href.models }, { page: "drift", label: "Drift", to: href.drift },
    { page: "devices", label: "Devices", to: href.devices },
  ],
  annotator: [{ page: "work", label: "Annotate", to: href.work }],
  reviewer: [
    { page: "qa", label: "QA review", to: href.qa }, { page: "counts", label: "Counts", to: href.counts },
    { page: "models", label: "Models", to: href.models }, { page: "drift", label: "Drift", to: href.drift },
  ],
  manager: [{ page: "counts", label: "Counts", to: href.counts }, { page: "numbers", label: "Numbers", to: href.numbers }],
  operator: [
    { page: "work", label: "Review disputed clips", to: (p: number) => href.work(p, "disputed") },
    { page: "counts", label: "Counts", to: href.counts }, { page: "numbers", label: "Numbers", to: href.numbers },
  ],
};

/** An admin's configuration pages, after the work in the top bar. */
const ADMIN_PAGES: NavLink[] = [
  { page: "routing", label: "Routing", to: href.routing }, { page: "webhooks", label: "Webhooks", to: href.webhooks },
  { page: "members", label: "Members", to: href.members }, { page: "settings", label: "Settings", to: href.settings },
];

/** The top bar's links for `role`: the queue page for the roles that work the queue, then the role's work. */
export function navLinks(role: Role): NavLink[] {
  const queue: NavLink[] = role === "manager" || role === "operator" ? []
    : [{ page: "dashboard", label: "Queue", to: href.dashboard }];
  return [...queue, ...ROLE_WORK[role], ...(role === "admin" ? ADMIN_PAGES : [])];
}

/** Whether the project page shows the queue's figures: not for store managers and bus operators, whose job is
 * their own sites' counts and clips (the queue's figures span every site). */
export function seesQueueStats(role: Role): boolean {
  return role !== "manager" && role !== "operator";
}
