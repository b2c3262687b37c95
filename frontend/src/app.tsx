/** The app shell: session, top bar, per-project live socket, and the route → view switch. */

import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api/errors";
import { logout, me as fetchMe } from "./api/endpoints";
import type { Me } from "./api/shapes";
import { ConnectionBadge, ProjectLive } from "./realtime/ProjectLive";
import { type Route, href, navigate, setPasswordLink, useRoute } from "./router";
import { SessionContext } from "./session";
import { ErrorBanner } from "./ui/ErrorBanner";
import { FlagToasts } from "./views/FlagToasts";
import { HomeView } from "./views/HomeView";
import { LoginView } from "./views/LoginView";
import { SetPasswordView } from "./views/SetPasswordView";
import { CountsView } from "./views/counts/CountsView";
import { DevicesView } from "./views/devices/DevicesView";
import { DriftView } from "./views/drift/DriftView";
import { AnnotateView } from "./views/editor/AnnotateView";
import { HistoryView } from "./views/history/HistoryView";
import { MembersView } from "./views/members/MembersView";
import { ModelsView } from "./views/models/ModelsView";
import { QaView } from "./views/qa/QaView";
import { RoutingView } from "./views/routing/RoutingView";
import { DashboardView } from "./views/queue/DashboardView";
import { WebhooksView } from "./views/webhooks/WebhooksView";

function ProjectView({ route }: { route: Exclude<Route, { name: "login" | "home" | "not_found" }> }) {
  switch (route.name) {
    case "dashboard":
      return <DashboardView project={route.project} />;
    case "work":
      return <AnnotateView key={route.reason ?? ""} project={route.project} initialReason={route.reason ?? ""} />;
    case "counts":
      return <CountsView project={route.project} camera={route.camera} />;
    case "qa":
      return <QaView project={route.project} item={route.item} />;
    case "history":
      return <HistoryView project={route.project} item={route.item} />;
    case "devices":
      return <DevicesView project={route.project} />;
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
  const projectAdmin = me.memberships.some((m) => m.project === project && m.role === "admin");
  const body = route.name === "home" || route.name === "login" ? <HomeView />
    : route.name === "not_found" ? <p>Nothing here. <a href={href.home()}>Back to your projects</a>.</p>
    : <ProjectView route={route} />;

  return (
    <SessionContext.Provider value={{ me, signOut }}>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href.home()}>Loupe</a>
        {project !== null && (
          <nav aria-label="Project">
            <a href={href.dashboard(project)}>Queue</a>
            <a href={href.work(project)}>Annotate</a>
            <a href={href.qa(project)}>QA</a>
            <a href={href.counts(project)}>Counts</a>
            <a href={href.models(project)}>Models</a>
            <a href={href.drift(project)}>Drift</a>
            <a href={href.devices(project)}>Devices</a>
            {projectAdmin && <a href={href.routing(project)} data-testid="nav-routing">Routing</a>}
            {projectAdmin && <a href={href.webhooks(project)} data-testid="nav-webhooks">Webhooks</a>}
            {projectAdmin && <a href={href.members(project)} data-testid="nav-members">Members</a>}
          </nav>
        )}
        <span class="spacer" />
        <span class="who">{me.username}</span>
        <button type="button" data-testid="logout" onClick={() => void signOut()}>Sign out</button>
      </header>
      <main class="page" id="main" tabIndex={-1}>
        {project !== null ? (
          // Keyed: another project's views start fresh (no claimed item, toasts or feed carried over).
          <ProjectLive key={project} project={project}>
            <ConnectionBadge />
            <FlagToasts project={project} />
            {body}
          </ProjectLive>
        ) : body}
      </main>
    </SessionContext.Provider>
  );
}
