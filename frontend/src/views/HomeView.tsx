/** The signed-in user's projects, each with their role and the work that role allows. */

import { listProjects } from "../api/endpoints";
import type { ProjectSummary, Role } from "../api/shapes";
import { href } from "../router";
import { ErrorBanner } from "../ui/ErrorBanner";
import { useAsync } from "../ui/useAsync";

/** What each role does here (annotations.models.Role; claim roles from reviewer/queue.py CLAIM_ROLES). */
export const ROLE_WORK: Record<Role, { label: string; to: (project: number) => string }[]> = {
  admin: [{ label: "Annotate", to: href.work }, { label: "QA review", to: href.qa },
          { label: "Counts", to: href.counts }, { label: "Devices", to: href.devices },
          { label: "Webhooks", to: href.webhooks }],
  annotator: [{ label: "Annotate", to: href.work }],
  reviewer: [{ label: "QA review", to: href.qa }, { label: "Counts", to: href.counts }],
  manager: [{ label: "Counts", to: href.counts }],
  operator: [{ label: "Review disputed clips", to: (p) => href.work(p, "disputed") },
             { label: "Counts", to: href.counts }],
};

function ProjectRow({ project }: { project: ProjectSummary }) {
  return (
    <li class="card">
      <h2>
        <a href={href.dashboard(project.id)} data-testid={`project-link-${project.id}`}>{project.name}</a>
      </h2>
      <p>
        Your role: <strong data-testid={`project-role-${project.id}`}>{project.role}</strong> ·{" "}
        {project.pending} pending
      </p>
      <nav class="row" aria-label={`Work in ${project.name}`}>
        {ROLE_WORK[project.role].map((w) => (
          <a class="button" href={w.to(project.id)} key={w.label}>{w.label}</a>
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
