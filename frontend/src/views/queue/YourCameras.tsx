/**
 * The project page of a store manager or a bus operator: the cameras of their own sites, each with its open
 * count flags, one tap from its counts. Their work, instead of the whole project's queue figures.
 */

import { listCameras } from "../../api/endpoints";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";

export function YourCameras({ project }: { project: number }) {
  const cameras = useAsync(() => listCameras(project), [project]);
  return (
    <section class="card" aria-label="Your cameras">
      <h2>Your cameras</h2>
      <ErrorBanner error={cameras.error} />
      {cameras.data && cameras.data.length === 0 && <p>No camera at your sites yet.</p>}
      {cameras.data && cameras.data.length > 0 && (
        <ul class="stack plain-list" data-testid="your-cameras">
          {cameras.data.map((c) => (
            <li key={c.id}>
              <a href={href.counts(project, c.id)} data-testid={`your-camera-${c.id}`}>{c.site.name} / {c.name}</a>
              {" "}<small>{c.open_flags === 0 ? "no open flags"
                : `${c.open_flags} open flag${c.open_flags === 1 ? "" : "s"}`}</small>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
