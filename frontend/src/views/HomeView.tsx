/** The signed-in user's projects, each with their role and the work that role allows. */

import { listProjects } from "../api/endpoints";
import type { ProjectSummary } from "../api/shapes";
import { ROLE_WORK, seesQueueStats } from "../roles";
import { href } from "../router";
import { ErrorBanner } from "../ui/ErrorBanner";
import { useAsync } from "../ui/useAsync";

// Each role's work lives in roles.ts (one table for the top bar, these pages and the page guard).
export { ROLE_WORK } from "../roles";

function ProjectRow({ project }: { project: ProjectSummary }) {
  return (
    <li class="card">
      <h2>
        <a href={href.dashboard(project.id)} data-testid={`project-link-${project.id}`}>{project.name}</a>
      </h2>
      <p>
        Your role: <strong data-testid={`project-role-${project.id}`}>{project.role}</strong>
        {seesQueueStats(project.role) && <> · {project.pending} pending</>}
      </p>
      <nav class="row" aria-label={`Work in ${project.name}`}>
        {ROLE_WORK[project.role].map((w, i) => (
          <a class={i === 0 ? "button primary" : "button"} href={w.to(project.id)} key={w.label}
             data-testid={`home-work-${project.id}-${w.page}`}>{w.label}</a>
        ))}
      </nav>
    </li>
  );
}

export function HomeView() {
  const projects = useAsync(listProjects, []);
  return (
    <section>
      <h1>Your projects</h1>
      <ErrorBanner error={projects.error} />
      {projects.data && projects.data.length === 0 && <p>You are not a member of any project yet.</p>}
      <ul class="grid" data-testid="project-list">
        {projects.data?.map((p) => <ProjectRow project={p} key={p.id} />)}
      </ul>
    </section>
  );
}
