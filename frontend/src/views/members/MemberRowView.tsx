/** One member: role and sites changed in place (Save), or removed after a confirmation. */

import { useRef, useState } from "preact/hooks";
import type { MemberChange, MemberRow, SiteRow } from "../../api/endpoints";
import type { Role } from "../../api/shapes";
import { FieldError } from "../../ui/FieldError";
import { type FieldErrors, focusFirstError } from "../../ui/fieldErrors";
import { ROLES, isScoped, refusals } from "./fields";
import { SitePicker } from "./SitePicker";

const FIELDS = ["role", "sites"] as const;
type Field = (typeof FIELDS)[number];

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "never");

export function MemberRowView({ member, sites, isMe, onChange, onRemove }: {
  member: MemberRow; sites: readonly SiteRow[]; isMe: boolean;
  onChange: (body: MemberChange) => Promise<void>; onRemove: () => Promise<void>;
}) {
  const [role, setRole] = useState<Role>(member.role);
  const [chosen, setChosen] = useState<number[]>(member.sites.map((s) => s.id));
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const row = useRef<HTMLFormElement>(null);
  const prefix = `member-${member.id}`;
  const dirty = role !== member.role
    || (isScoped(role) && chosen.slice().sort().join() !== member.sites.map((s) => s.id).sort().join());

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setErrors({});
    try {
      await action();
    } catch (err) {
      const found = refusals(err, FIELDS);
      setErrors(found);
      focusFirstError(row.current, FIELDS, found);
    } finally {
      setBusy(false);
    }
  };

  const save = (event: Event) => {
    event.preventDefault();
    if (isScoped(role) && chosen.length === 0) {
      setErrors({ sites: "Choose at least one site." });
      return;
    }
    void run(() => onChange(isScoped(role) ? { role, sites: chosen } : { role }));
  };

  const remove = () => {
    const who = isMe ? "yourself" : member.username;
    if (!window.confirm(`Remove ${who} from this project? Their account stays; their work in the project stays.`)) return;
    void run(onRemove);
  };

  return (
    <li class="card" data-testid={prefix}>
      <form ref={row} class="stack" onSubmit={save} aria-label={`Member ${member.username}`}>
        <p>
          <strong>{member.username}</strong> {isMe && <small>(you)</small>} · {member.email || "no email"} ·{" "}
          {member.active ? <span class="status-ok">active</span>
            : <span class="status-warn" data-testid={`${prefix}-invited`}>invited, no password yet</span>}
          <br /><small>Added {when(member.added_at)} · last sign-in {when(member.last_login)}</small>
        </p>
        <div class="member-controls">
        <label>
          Role
          <select data-field="role" data-testid={`${prefix}-role`} value={role}
                  onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {ROLES.map((r) => <option key={r.value} value={r.value}>{r.label}</option>)}
          </select>
        </label>
        {isScoped(role) && (
          <SitePicker sites={sites} chosen={chosen} onChange={setChosen} idPrefix={prefix}
                      errorId={`${prefix}-sites-error`} hasError={!!errors.sites} />
        )}
        <div class="row">
          <button type="submit" disabled={busy || !dirty} data-testid={`${prefix}-save`}>Save</button>
          <button type="button" disabled={busy} data-testid={`${prefix}-remove`} onClick={remove}>Remove…</button>
        </div>
        </div>
        <FieldError id={`${prefix}-role-error`} message={errors.role} />
        <FieldError id={`${prefix}-sites-error`} message={errors.sites} />
        {errors.form && <p class="banner banner-error" role="alert" data-testid={`${prefix}-error`}>{errors.form}</p>}
      </form>
    </li>
  );
}
