/**
 * Retention (admins, docs/retention.md): how many days the project keeps unreviewed media, reviewed media,
 * predictions and audit events; an empty field keeps them forever. Below: the sites under legal hold and what
 * the last prune deleted. Save sends only what changed; a refusal shows beside its field.
 */

import { useState } from "preact/hooks";
import { type Retention, type RetentionChange, type RetentionRun, dryRunRetention, listSites, placeLegalHold,
  readRetention, releaseLegalHold, updateRetention } from "../../api/endpoints";
import { ErrorBanner } from "../../ui/ErrorBanner";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { type FieldErrors, describedBy } from "../../ui/fieldErrors";
import { useAsync } from "../../ui/useAsync";
import { useSettingsForm } from "./useSettingsForm";

type Field = "unreviewed_media_days" | "reviewed_media_days" | "prediction_days" | "audit_days";
export const RETENTION_FIELDS: readonly Field[] = ["unreviewed_media_days", "reviewed_media_days", "prediction_days",
  "audit_days"];

const LABELS: Record<Field, { label: string; hint: string }> = {
  unreviewed_media_days: { label: "Unreviewed media (days)",
    hint: "Frames and clips nobody annotated, counted from the last event that used them." },
  reviewed_media_days: { label: "Reviewed media (days)", hint: "Counted from the last annotation." },
  prediction_days: { label: "Predictions and counts (days)",
    hint: "Those a review item or an annotation refers to are kept with it." },
  audit_days: { label: "Audit events (days)", hint: "" },
};

export type RetentionDraft = Record<Field, string>;

export const retentionDraftOf = (r: Retention): RetentionDraft => ({
  unreviewed_media_days: String(r.policy.unreviewed_media_days ?? ""),
  reviewed_media_days: String(r.policy.reviewed_media_days ?? ""),
  prediction_days: String(r.policy.prediction_days ?? ""),
  audit_days: String(r.policy.audit_days ?? ""),
});

/** The limits that differ from what is stored (empty: keep forever, sent as null), and a sentence for each
 * field that is not a whole number of days (or, for audit events, is under the floor). */
export function retentionChangesFrom(stored: Retention, draft: RetentionDraft):
  { changes: RetentionChange; errors: FieldErrors<Field> } {
  const changes: RetentionChange = {};
  const errors: FieldErrors<Field> = {};
  for (const field of RETENTION_FIELDS) {
    const text = draft[field].trim();
    const min = field === "audit_days" ? stored.audit_floor_days : 1;
    let value: number | null = null;
    if (text !== "") {
      if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 36500) {
        errors[field] = `Enter a whole number of days from ${min} to 36500, or leave it empty to keep forever.`;
        continue;
      }
      value = Number(text);
    }
    if (value !== (stored.policy[field] ?? null)) changes[field] = value;
  }
  return { changes, errors };
}

const id = (part: string) => `retention-${part}`;

/** Storage in words: kB under a megabyte (a few frames), MB above. */
export function storageSize(bytes: number): string {
  return bytes < 1_000_000 ? `${(bytes / 1000).toFixed(1)} kB` : `${(bytes / 1_000_000).toFixed(1)} MB`;
}

interface Report { media_deleted?: unknown[]; bytes_freed?: number; predictions_deleted?: number;
                   audit_events_deleted?: number; telemetry_deleted?: number }

/** One sentence for a run's report: what it deleted (or, dry, would delete). */
export function describeRun(run: RetentionRun): string {
  const report = (run.report ?? {}) as Report;
  return `${report.media_deleted?.length ?? 0} media (${storageSize(report.bytes_freed ?? 0)}), `
    + `${report.predictions_deleted ?? 0} predictions, ${report.audit_events_deleted ?? 0} audit events, `
    + `${report.telemetry_deleted ?? 0} telemetry samples`;
}

function LastRun({ retention }: { retention: Retention }) {
  const run = retention.last_run;
  if (!run) return <p class="hint" data-testid={id("last-run")}>No prune has run yet.</p>;
  return (
    <p class="hint" data-testid={id("last-run")}>
      Last prune {new Date(run.started_at).toLocaleString()} deleted {describeRun(run)}.
    </p>
  );
}

function DryRun({ project, initial }: { project: number; initial: RetentionRun | null }) {
  const [run, setRun] = useState<RetentionRun | null>(initial);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const preview = async () => {
    setBusy(true);
    setError(null);
    try {
      setRun(await dryRunRetention(project));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="stack tight">
      <ErrorBanner error={error} />
      <div class="row">
        <button type="button" disabled={busy} data-testid={id("dry-run")} onClick={() => void preview()}>
          Preview what the next prune deletes
        </button>
      </div>
      {run && (
        <p class="hint" data-testid={id("dry-run-report")}>
          Dry run {new Date(run.started_at).toLocaleString()} (saved limits): would delete {describeRun(run)}.
        </p>
      )}
    </div>
  );
}

function RetentionForm({ project, stored, onSaved }: { project: number; stored: Retention;
                                                       onSaved: (r: Retention) => void }) {
  const { form, draft, setField, errors, notice, busy, submit } = useSettingsForm({
    stored, fields: RETENTION_FIELDS, draftOf: retentionDraftOf, changesFrom: retentionChangesFrom,
    save: (changes: RetentionChange) => updateRetention(project, changes),
    nothingToSave: "Nothing to save: no limit was changed.", onSaved,
  });

  return (
    <form ref={form} class="card stack settings-form" noValidate onSubmit={(e) => void submit(e)}
          data-testid={id("form")} aria-label="Retention">
      <h2>Retention</h2>
      <p class="hint">Empty keeps forever. Media in a dataset version, of an open review item or of a site under
        legal hold are never deleted.</p>
      {RETENTION_FIELDS.map((field) => {
        const error = errors[field];
        const hint = field === "audit_days" ? `At least ${stored.audit_floor_days} days.` : LABELS[field].hint;
        return (
          <div class="stack tight" key={field}>
            <label for={id(field)}>{LABELS[field].label}</label>
            <input id={id(field)} type="text" inputMode="numeric" class="number" autoComplete="off"
                   spellcheck={false} value={draft[field]} data-field={field} data-testid={id(field)}
                   placeholder="forever" aria-invalid={error ? true : undefined}
                   aria-describedby={describedBy(id(`${field}-hint`), id(`${field}-error`), !!error)}
                   onInput={(e) => setField(field, e.currentTarget.value)} />
            <p class="hint" id={id(`${field}-hint`)}>{hint}</p>
            <FieldError id={id(`${field}-error`)} message={error} />
          </div>
        );
      })}
      <FormRefusals errors={errors} fields={RETENTION_FIELDS} testId={id("refused")} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy} data-testid={id("save")}>Save retention</button>
        <span role="status" data-testid={id("saved")}>{notice}</span>
      </div>
      <LastRun retention={stored} />
      <DryRun project={project} initial={stored.last_dry_run} />
    </form>
  );
}

/** Per site: its legal hold (who, why, when) with Release, or Place hold with the reason asked first. A held
 * site's media and predictions are never pruned. */
function LegalHolds({ project, stored, onChanged }: { project: number; stored: Retention; onChanged: () => void }) {
  const sites = useAsync(() => listSites(project), [project]);
  const [reasons, setReasons] = useState<Record<number, string>>({});
  const [refusal, setRefusal] = useState<{ site: number; message: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const held = new Map(stored.legal_holds.map((h) => [h.site, h]));
  const act = async (site: number, what: () => Promise<unknown>) => {
    setError(null);
    setRefusal(null);
    try {
      await what();
      setReasons({ ...reasons, [site]: "" });
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const place = (site: number) => {
    const reason = (reasons[site] ?? "").trim();
    if (!reason) {
      setRefusal({ site, message: "Say why (a case number, who asked): the hold is audited with it." });
      document.getElementById(id(`hold-reason-${site}`))?.focus();
      return;
    }
    void act(site, () => placeLegalHold(project, site, reason));
  };
  return (
    <section class="card stack" aria-label="Legal holds" data-testid={id("holds")}>
      <h2>Legal holds</h2>
      <p class="hint">A site under legal hold keeps all its media and predictions, whatever the limits above.</p>
      <ErrorBanner error={error ?? sites.error} />
      <ul class="stack tight">
        {(sites.data ?? []).map((site) => {
          const hold = held.get(site.id);
          return (
            <li key={site.id} class="row" data-testid={id(`site-${site.id}`)}>
              <strong>{site.name}</strong>
              {hold ? (
                <>
                  <span data-testid={id(`held-${site.id}`)}>held by {hold.held_by} since {
                    new Date(hold.held_at).toLocaleDateString()}: {hold.reason}</span>
                  <button type="button" data-testid={id(`release-${site.id}`)}
                          onClick={() => void act(site.id, () => releaseLegalHold(project, site.id))}>Release</button>
                </>
              ) : (
                <>
                  <label class="sr-only" for={id(`hold-reason-${site.id}`)}>Reason for holding {site.name}</label>
                  <input id={id(`hold-reason-${site.id}`)} type="text" maxLength={2000} placeholder="Reason"
                         value={reasons[site.id] ?? ""} data-testid={id(`hold-reason-${site.id}`)}
                         aria-invalid={refusal?.site === site.id ? true : undefined}
                         aria-describedby={refusal?.site === site.id ? id(`hold-error-${site.id}`) : undefined}
                         onInput={(e) => setReasons({ ...reasons, [site.id]: e.currentTarget.value })} />
                  <button type="button" data-testid={id(`hold-${site.id}`)} onClick={() => place(site.id)}>
                    Place legal hold</button>
                  <FieldError id={id(`hold-error-${site.id}`)}
                              message={refusal?.site === site.id ? refusal.message : undefined} />
                </>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function RetentionSettings({ project }: { project: number }) {
  const loaded = useAsync(() => readRetention(project), [project]);
  const [stored, setStored] = useState<Retention | null>(null);
  const current = stored ?? loaded.data;
  const refresh = async () => setStored(await readRetention(project));
  return (
    <>
      <ErrorBanner error={loaded.error} />
      {current && <RetentionForm project={project} stored={current} onSaved={setStored} />}
      {current && <LegalHolds project={project} stored={current} onChanged={() => void refresh()} />}
    </>
  );
}
