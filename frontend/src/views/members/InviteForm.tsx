/** Invite someone into the project: username, email, role and (for managers and operators) sites. */

import { useRef, useState } from "preact/hooks";
import type { Invitation, SiteRow } from "../../api/endpoints";
import type { Role } from "../../api/shapes";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { type FieldErrors, describedBy, focusFirstError } from "../../ui/fieldErrors";
import { ROLES, isScoped, refusals } from "./fields";
import { SitePicker } from "./SitePicker";

const FIELDS = ["username", "email", "role", "sites"] as const;
type Field = (typeof FIELDS)[number];

export function InviteForm({ sites, onInvite }: { sites: readonly SiteRow[]; onInvite: (body: Invitation) => Promise<void> }) {
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("annotator");
  const [chosen, setChosen] = useState<number[]>([]);
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const local: FieldErrors<Field> = isScoped(role) && chosen.length === 0
      ? { sites: "A store manager or bus operator sees only their sites: choose at least one." } : {};
    if (local.sites) {
      setErrors(local);
      focusFirstError(form.current, FIELDS, local);
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      await onInvite({ username: username.trim(), email: email.trim(), role, sites: isScoped(role) ? chosen : [] });
      setUsername("");
      setEmail("");
      setChosen([]);
    } catch (err) {
      const found = refusals(err, FIELDS);
      setErrors(found);
      focusFirstError(form.current, FIELDS, found);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} class="card stack" aria-labelledby="invite-title" onSubmit={submit} noValidate data-testid="invite-form">
      <h2 id="invite-title">Invite someone</h2>
      <label>
        Username
        <input data-field="username" data-testid="invite-username" required autoComplete="off" value={username}
               aria-invalid={errors.username ? true : undefined}
               aria-describedby={describedBy(undefined, "invite-username-error", !!errors.username)}
               onInput={(e) => setUsername(e.currentTarget.value)} />
      </label>
      <FieldError id="invite-username-error" message={errors.username} />
      <label>
        Email
        <input type="email" data-field="email" data-testid="invite-email" required autoComplete="off" value={email}
               aria-invalid={errors.email ? true : undefined}
               aria-describedby={describedBy("invite-email-hint", "invite-email-error", !!errors.email)}
               onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <small id="invite-email-hint">They get a link to set their password. Someone who already has an account is added if
        this is its email address.</small>
      <FieldError id="invite-email-error" message={errors.email} />
      <label>
        Role
        <select data-field="role" data-testid="invite-role" value={role}
                aria-describedby={describedBy(undefined, "invite-role-error", !!errors.role)}
                onChange={(e) => setRole(e.currentTarget.value as Role)}>
          {ROLES.map((r) => <option key={r.value} value={r.value}>{r.label}: {r.hint}</option>)}
        </select>
      </label>
      <FieldError id="invite-role-error" message={errors.role} />
      {isScoped(role) && (
        <SitePicker sites={sites} chosen={chosen} onChange={setChosen} idPrefix="invite" errorId="invite-sites-error"
                    hasError={!!errors.sites} />
      )}
      <FieldError id="invite-sites-error" message={errors.sites} />
      <FormRefusals errors={errors} fields={FIELDS} testId="invite-error" />
      <button type="submit" class="primary" disabled={busy} data-testid="invite-submit">Send invitation</button>
    </form>
  );
}
