/** The app shell: session, top bar, per-project live socket, and the route → view switch. */

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api/errors";
import { logout, me as fetchMe } from "./api/endpoints";
import type { Me, Role } from "./api/shapes";
import { ConnectionBadge, ProjectLive } from "./realtime/ProjectLive";
import { ALERT_ROLES, mayOpen, navLinks } from "./roles";
import { type Route, href, navigate, setPasswordLink, useRoute } from "./router";
import { SessionContext } from "./session";
import { ErrorBanner } from "./ui/ErrorBanner";
import { FlagToasts } from "./views/FlagToasts";
import { HomeView } from "./views/HomeView";
import { LoginView } from "./views/LoginView";
import { SetPasswordView } from "./views/SetPasswordView";
import { AlertBell, AlertsLive } from "./views/alerts/AlertBell";
import { AlertsView } from "./views/alerts/AlertsView";
import { CountsView } from "./views/counts/CountsView";
import { DeviceDetailView } from "./views/devices/DeviceDetailView";
import { DevicesView } from "./views/devices/DevicesView";
import { DriftView } from "./views/drift/DriftView";
import { AnnotateView } from "./views/editor/AnnotateView";
import { HistoryView } from "./views/history/HistoryView";
import { MembersView } from "./views/members/MembersView";
import { NumbersView } from "./views/numbers/NumbersView";
import { ModelsView } from "./views/models/ModelsView";
import { QaView } from "./views/qa/QaView";
import { RoutingView } from "./views/routing/RoutingView";
import { DashboardView } from "./views/queue/DashboardView";
import { SettingsView } from "./views/settings/SettingsView";
import { ImportView } from "./views/imports/ImportView";
import { LabelStudioView } from "./views/labelstudio/LabelStudioView";
import { WebhooksView } from "./views/webhooks/WebhooksView";

type ProjectRoute = Exclude<Route, { name: "login" | "home" | "not_found" }>;

/** A page the caller's role cannot use, opened by its address: one plain sentence, nothing of the page under it
 * (no form that the API would refuse). */
function NotForRole({ project, role }: { project: number; role: Role }) {
  return (
    <section class="card stack" data-testid="not-for-role">
      <h1>Not available for your role</h1>
      <p>This page is not part of the {role}'s work in this project, so it is not shown. If you need it, ask a
        project admin to change your role.</p>
      <p><a class="button primary" href={href.dashboard(project)} data-testid="not-for-role-back">Back to your work</a></p>
    </section>
  );
}

function ProjectView({ route, role }: { route: ProjectRoute; role: Role | undefined }) {
  if (role !== undefined && !mayOpen(route.name, role)) return <NotForRole project={route.project} role={role} />;
  switch (route.name) {
    case "dashboard":
      return <DashboardView project={route.project} />;
    case "work":
      return <AnnotateView key={route.reason ?? ""} project={route.project} initialReason={route.reason ?? ""} />;
    case "counts":
      return <CountsView project={route.project} camera={route.camera} />;
    case "numbers":
      return <NumbersView project={route.project} />;
    case "qa":
      return <QaView project={route.project} item={route.item} />;
    case "history":
      return <HistoryView project={route.project} item={route.item} />;
    case "devices":
      return <DevicesView project={route.project} />;
    case "device":
      return <DeviceDetailView project={route.project} device={route.device} />;
    case "models":
      return <ModelsView project={route.project} />;
    case "webhooks":
      return <WebhooksView project={route.project} />;
    case "drift":
      return <DriftView project={route.project} />;
    case "routing":
      return <RoutingView project={route.project} />;
    case "members":
      return <MembersView project={route.project} />;
    case "settings":
      return <SettingsView project={route.project} />;
    case "alerts":
      return <AlertsView project={route.project} />;
    case "imports":
      return <ImportView project={route.project} />;
    case "labelstudio":
      return <LabelStudioView project={route.project} />;
  }
}

export function App() {
  // The emailed set-password link is a real path (Django serves the shell there), read before any session check.
  const link = setPasswordLink(window.location.pathname, window.location.search);
  if (link) return <SetPasswordView uid={link.uid} token={link.token} />;
  return <Shell />;
}

function Shell() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    fetchMe().then(setMe, (err: unknown) => {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) setMe(null);
      else setError(err);
    });
  }, []);

  useEffect(() => {
    if (me === null && route.name !== "login") navigate(href.login());
    if (me && route.name === "login") navigate(href.home());
  }, [me, route.name]);

  const signOut = async () => {
    await logout();
    setMe(null);
  };

  if (error) return <main class="page"><ErrorBanner error={error} /></main>;
  if (me === undefined) return <main class="page" aria-busy="true">Loading…</main>;
  if (me === null) return <LoginView onSignedIn={setMe} />;

  const project = "project" in route ? route.project : null;
  // Not a member: no role, no links; the page's own API call answers 404 ("not found"), leaking nothing.
  const role = me.memberships.find((m) => m.project === project)?.role;
  const body = route.name === "home" || route.name === "login" ? <HomeView />
    : route.name === "not_found" ? <p>Nothing here. <a href={href.home()}>Back to your projects</a>.</p>
    : <ProjectView route={route} role={role} />;

  return (
    <SessionContext.Provider value={{ me, signOut }}>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href.home()}>Loupe</a>
        {project !== null && role !== undefined && (
          <nav aria-label="Project" data-testid="project-nav">
            {navLinks(role).map((link) => (
              <a href={link.to(project)} key={link.page} data-testid={`nav-${link.page}`}
                 aria-current={"name" in route && route.name === link.page ? "page" : undefined}>{link.label}</a>
            ))}
          </nav>
        )}
        <span class="spacer" />
        {project !== null && role !== undefined && ALERT_ROLES.includes(role) && <AlertBell key={project} project={project} />}
        <span class="who">{me.username}</span>
        <button type="button" data-testid="logout" onClick={() => void signOut()}>Sign out</button>
      </header>
      <main class="page" id="main" tabIndex={-1}>
        {project !== null ? (
          // Keyed: another project's views start fresh (no claimed item, toasts or feed carried over).
          <ProjectLive key={project} project={project}>
            <ConnectionBadge />
            <AlertsLive />
            <FlagToasts project={project} />
            {body}
          </ProjectLive>
        ) : body}
      </main>
    </SessionContext.Provider>
  );
}
