/**
 * Members page (admins): who is in the project with which role and sites, whether they have set a password,
 * invite someone, change a role or sites in place, remove someone (after a confirmation). The last admin can be
 * neither demoted nor removed: the server refuses and the row says why.
 */

import { useContext, useState } from "preact/hooks";
import { changeMember, inviteMember, listMembers, listSites, removeMember } from "../../api/endpoints";
import { SessionContext } from "../../session";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { useAsync } from "../../ui/useAsync";
import { roleLabel } from "./fields";
import { InviteForm } from "./InviteForm";
import { MemberRowView } from "./MemberRowView";

export function MembersView({ project }: { project: number }) {
  const members = useAsync(() => listMembers(project), [project]);
  const sites = useAsync(() => listSites(project), [project]);
  const session = useContext(SessionContext);
  const [notice, setNotice] = useState("");
  const rows = members.data ?? [];

  return (
    <section class="stack">
      <h1>Members</h1>
      <ErrorBanner error={members.error ?? sites.error} />
      <p role="status" class="notice" data-testid="members-notice">{notice}</p>
      {members.loading && !members.data && <p>Loading…</p>}
      <ul class="stack member-list" data-testid="member-list" aria-label="Members">
        {rows.map((m) => (
          <MemberRowView key={`${m.id}-${m.role}-${m.sites.map((s) => s.id).join()}`} member={m}
                         sites={sites.data ?? []} isMe={m.user === session?.me.id}
                         onChange={async (body) => {
                           const changed = await changeMember(project, m.id, body);
                           setNotice(`${changed.username} is now ${roleLabel(changed.role)}`
                                     + (changed.sites.length ? ` of ${changed.sites.map((s) => s.name).join(", ")}.` : "."));
                           members.reload();
                         }}
                         onRemove={async () => {
                           await removeMember(project, m.id);
                           setNotice(`Removed ${m.username} from the project.`);
                           members.reload();
                         }} />
        ))}
      </ul>
      <InviteForm sites={sites.data ?? []} onInvite={async (body) => {
        const { existingAccount } = await inviteMember(project, body);
        setNotice(existingAccount
          ? `Added ${body.username}, who already has an account: they get an email and sign in as usual.`
          : `Invited ${body.username}: they get an email with a link to set their password.`);
        members.reload();
      }} />
    </section>
  );
}
