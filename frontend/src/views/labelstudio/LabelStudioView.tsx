/**
 * Label Studio page (admins; the API is activelearning/labelstudio/api.py): not linked, a form to link the project
 * to a Label Studio project; linked, the link's status, "Push items", "Sync now", "Unlink" (after a confirmation:
 * items still in Label Studio come back to the queue) and linking again with new settings. Every refusal shows
 * the server's message, never a blank page.
 */

import { useState } from "preact/hooks";
import {
  type LabelStudioLinkWrite, type LabelStudioStatus, type LabelStudioSyncResult, readLabelStudioLink,
  saveLabelStudioLink, syncLabelStudio, unlinkLabelStudio,
} from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import { href } from "../../router";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { LinkForm } from "./LinkForm";
import { PushForm } from "./PushForm";
import { StatusPanel } from "./StatusPanel";
import { describeSync } from "./words";

/** The confirmation before unlinking, with how many items come back to the queue. */
export function unlinkQuestion(status: LabelStudioStatus): string {
  const waiting = status.tasks?.pending ?? 0;
  const back = waiting === 0 ? "No item is waiting in Label Studio."
    : `The ${waiting === 1 ? "item" : `${waiting} items`} still in Label Studio come${waiting === 1 ? "s" : ""} back to `
      + "Loupe's queue, and annotations made there afterwards do not reach Loupe.";
  return `Unlink this project from Label Studio? ${back} The Label Studio project and its tasks stay as they are.`;
}

function Linked({ project, status, reload, onNotice }: {
  project: number; status: LabelStudioStatus; reload: () => void; onNotice: (text: string) => void;
}) {
  const [synced, setSynced] = useState<LabelStudioSyncResult | null>(null);
  const [syncError, setSyncError] = useState<unknown>(null);
  const [syncing, setSyncing] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const sync = async () => {
    setSyncing(true);
    setSynced(null);
    setSyncError(null);
    try {
      setSynced(await syncLabelStudio(project));
    } catch (err) {
      setSyncError(err);
    } finally {
      setSyncing(false);
      reload();
    }
  };

  const unlink = async () => {
    if (!window.confirm(unlinkQuestion(status))) return;
    setError(null);
    try {
      await unlinkLabelStudio(project);
      onNotice("Unlinked from Label Studio. The items that were waiting there are back in Loupe's queue.");
      reload();
    } catch (err) {
      setError(err);
    }
  };

  const relink = async (body: LabelStudioLinkWrite) => {
    const saved = await saveLabelStudioLink(project, body);
    onNotice(`Linked again to Label Studio project ${saved.ls_project_id ?? ""} with the new settings.`);
    reload();
  };

  return (
    <>
      <StatusPanel status={status} />
      <div class="row">
        <button type="button" class="primary" disabled={syncing} data-testid="ls-sync" onClick={() => void sync()}>
          {syncing ? "Syncing…" : "Sync now"}</button>
        <button type="button" class="danger" data-testid="ls-unlink" onClick={() => void unlink()}>Unlink…</button>
      </div>
      {synced && <p role="status" class="banner banner-ok" data-testid="ls-sync-result">{describeSync(synced)}</p>}
      <ErrorBanner error={syncError} testId="ls-sync-error" />
      <ErrorBanner error={error} testId="ls-unlink-error" />
      <section class="card">
        <PushForm project={project} onPushed={reload} />
      </section>
      <details class="card" data-testid="ls-relink">
        <summary>Change the link's settings…</summary>
        <LinkForm current={status} onSave={relink} />
      </details>
    </>
  );
}

export function LabelStudioView({ project }: { project: number }) {
  const link = useAsync(() => readLabelStudioLink(project), [project]);
  const [notice, setNotice] = useState("");

  const save = async (body: LabelStudioLinkWrite) => {
    const saved = await saveLabelStudioLink(project, body);
    setNotice(`Linked to Label Studio project ${saved.ls_project_id ?? ""}. Push items below to send them there.`);
    link.reload();
  };

  const forbidden = link.error instanceof ApiError && link.error.status === 403;
  const status = link.data;
  return (
    <section class="stack labelstudio">
      <h1>Label Studio</h1>
      <p class="hint">Send queued items to a Label Studio project as tasks, with their pre-labels as predictions;
        each annotation made there comes back as a Loupe version and goes through QA like one made here.
        {" "}<a href={href.models(project)}>Back to Models</a></p>
      {forbidden
        ? <p class="banner banner-warn" data-testid="ls-forbidden">Only the project's admins can see and change its
            Label Studio link.</p>
        : <ErrorBanner error={link.error} testId="ls-error" />}
      <p class="sr-status" role="status" data-testid="ls-notice">{notice}</p>
      {link.loading && !status && <p aria-busy="true">Loading…</p>}
      {status && !status.linked && (
        <section class="card stack" aria-labelledby="ls-link-title">
          <h2 id="ls-link-title">Link to Label Studio</h2>
          <LinkForm onSave={save} />
        </section>
      )}
      {status?.linked && <Linked project={project} status={status} reload={link.reload} onNotice={setNotice} />}
    </section>
  );
}
