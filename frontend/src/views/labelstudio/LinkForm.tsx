/**
 * Link the project to Label Studio (or link it again with new settings): Label Studio's address and an API token
 * (write-only: never shown back), an existing Label Studio project or a new one, Loupe's address as Label Studio
 * reaches it, webhooks, and auto-push with its filter. Label Studio checks the token before anything is stored; a
 * refusal is shown beside the field it concerns, and nothing typed is lost.
 */

import { useRef, useState } from "preact/hooks";
import type { LabelStudioLinkWrite, LabelStudioStatus, Reason } from "../../api/endpoints";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { describedBy, focusFirstError } from "../../ui/fieldErrors";
import { ReasonSelect } from "./ReasonSelect";
import { FIELDS, type FieldErrors, fieldErrors } from "./words";

export interface LinkValues {
  url: string;
  token: string;
  lsProjectId: string;
  loupeUrl: string;
  webhooks: boolean;
  autoPush: boolean;
  reasons: Reason[];
  minPriority: string;
}

/** The request body for the form's values, or the fields to fix first (checked here, before any request). */
export function linkBody(values: LinkValues): { body: LabelStudioLinkWrite } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const url = values.url.trim();
  if (!url) errors.url = "Enter Label Studio's address, for example https://labelstudio.example.com.";
  if (!values.token.trim()) errors.token = "Enter a Label Studio API token.";
  const project = values.lsProjectId.trim();
  if (project && !/^[1-9]\d*$/.test(project)) {
    errors.ls_project_id = "A Label Studio project id is a whole number (the one in its address), or leave it empty.";
  }
  const priority = values.minPriority.trim();
  const min = priority ? Number(priority) : undefined;
  if (values.autoPush && min !== undefined && !(min >= 0 && min <= 1)) {
    errors.push_filter = "The lowest priority is a number from 0 to 1, or leave it empty.";
  }
  if (Object.keys(errors).length > 0) return { errors };
  const body: LabelStudioLinkWrite = { url, token: values.token.trim(), auto_push: values.autoPush,
                                       webhooks_enabled: values.webhooks };
  if (project) body.ls_project_id = Number(project);
  if (values.loupeUrl.trim()) body.loupe_url = values.loupeUrl.trim();
  if (values.autoPush) {
    body.push_filter = {
      ...(values.reasons.length ? { reasons: values.reasons } : {}), ...(min !== undefined ? { min_priority: min } : {}),
    };
  }
  return { body };
}

interface Props {
  /** The current link when linking again (its settings are the starting values; the token is asked again). */
  current?: LabelStudioStatus;
  onSave: (body: LabelStudioLinkWrite) => Promise<unknown>;
}

export function LinkForm({ current, onSave }: Props) {
  const [url, setUrl] = useState(current?.url ?? "");
  const [token, setToken] = useState("");
  const [lsProjectId, setLsProjectId] = useState(current?.ls_project_id ? String(current.ls_project_id) : "");
  const [loupeUrl, setLoupeUrl] = useState(current?.loupe_url ?? "");
  const [webhooks, setWebhooks] = useState(current?.webhooks_enabled ?? true);
  const [autoPush, setAutoPush] = useState(current?.auto_push ?? false);
  const [reasons, setReasons] = useState<Reason[]>(current?.push_filter?.reasons ?? []);
  const [minPriority, setMinPriority] = useState(
    current?.push_filter?.min_priority !== undefined ? String(current.push_filter.min_priority) : "");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const checked = linkBody({ url, token, lsProjectId, loupeUrl, webhooks, autoPush, reasons, minPriority });
    if ("errors" in checked) {
      setErrors(checked.errors);
      focusFirstError(form.current, FIELDS, checked.errors);
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      await onSave(checked.body);
      setToken("");
    } catch (err) {
      const found = fieldErrors(err);
      setErrors(found);
      focusFirstError(form.current, FIELDS, found);
    } finally {
      setBusy(false);
    }
  };

  const invalid = (field: keyof FieldErrors) => (errors[field] ? true : undefined);
  return (
    <form ref={form} class="stack labelstudio-form" noValidate onSubmit={(e) => void submit(e)} data-testid="ls-link-form"
          aria-label={current ? "Link again with new settings" : "Link to Label Studio"}>
      <label for="ls-url">Label Studio address</label>
      <input id="ls-url" type="url" inputMode="url" required value={url} maxLength={500} data-field="url"
             placeholder="https://labelstudio.example.com" autoComplete="off" spellcheck={false}
             aria-invalid={invalid("url")} aria-describedby={describedBy("ls-url-hint", "ls-url-error", !!errors.url)}
             data-testid="ls-url" onInput={(e) => setUrl(e.currentTarget.value)} />
      <p class="hint" id="ls-url-hint">As Loupe's server reaches it (the operator allows the host in
        LOUPE_OUTBOUND_ALLOWED_HOSTS).</p>
      <FieldError id="ls-url-error" message={errors.url} />

      <label for="ls-token">API token</label>
      <input id="ls-token" type="password" required value={token} maxLength={500} data-field="token"
             autoComplete="off" spellcheck={false}
             aria-invalid={invalid("token")} aria-describedby={describedBy("ls-token-hint", "ls-token-error", !!errors.token)}
             data-testid="ls-token" onInput={(e) => setToken(e.currentTarget.value)} />
      <p class="hint" id="ls-token-hint">{current ? "Enter it again to link again. " : ""}From Label Studio's Account &amp;
        Settings. Loupe stores it encrypted and never shows it again.</p>
      <FieldError id="ls-token-error" message={errors.token} />

      <label for="ls-project">Existing Label Studio project id (optional)</label>
      <input id="ls-project" type="text" inputMode="numeric" value={lsProjectId} maxLength={10} data-field="ls_project_id"
             placeholder="empty: Loupe makes a new project" autoComplete="off"
             aria-invalid={invalid("ls_project_id")}
             aria-describedby={describedBy("ls-project-hint", "ls-project-error", !!errors.ls_project_id)}
             data-testid="ls-project" onInput={(e) => setLsProjectId(e.currentTarget.value)} />
      <p class="hint" id="ls-project-hint">The number in its address (…/projects/<b>12</b>/data). Empty: a new project
        with a box label for each of this project's classes.</p>
      <FieldError id="ls-project-error" message={errors.ls_project_id} />

      <label for="ls-loupe-url">Loupe's address, as Label Studio reaches it (optional)</label>
      <input id="ls-loupe-url" type="url" inputMode="url" value={loupeUrl} maxLength={500} data-field="loupe_url"
             placeholder={window.location.origin} autoComplete="off" spellcheck={false}
             aria-invalid={invalid("loupe_url")}
             aria-describedby={describedBy("ls-loupe-url-hint", "ls-loupe-url-error", !!errors.loupe_url)}
             data-testid="ls-loupe-url" onInput={(e) => setLoupeUrl(e.currentTarget.value)} />
      <p class="hint" id="ls-loupe-url-hint">Label Studio sends its webhook here and its annotators load the images
        from here. Empty: the server's configured public address, else this one.</p>
      <FieldError id="ls-loupe-url-error" message={errors.loupe_url} />

      <label class="check">
        <input type="checkbox" checked={webhooks} data-testid="ls-webhooks" onChange={(e) => setWebhooks(e.currentTarget.checked)} />
        Webhooks: Label Studio tells Loupe of each annotation at once (off: Loupe polls it every minute)
      </label>

      <label class="check">
        <input type="checkbox" checked={autoPush} data-testid="ls-auto-push" onChange={(e) => setAutoPush(e.currentTarget.checked)} />
        Auto-push: send every newly queued item matching the filter below to Label Studio
      </label>
      {autoPush && (
        <fieldset class="stack" data-testid="ls-auto-filter">
          <legend>Which items go automatically</legend>
          <ReasonSelect id="ls-auto-reasons" label="Reasons" value={reasons} onChange={setReasons} />
          <label for="ls-auto-min-priority">Lowest priority (0 to 1, optional)</label>
          <input id="ls-auto-min-priority" type="number" min={0} max={1} step={0.05} value={minPriority}
                 data-field="push_filter" aria-invalid={invalid("push_filter")}
                 aria-describedby={describedBy(undefined, "ls-auto-filter-error", !!errors.push_filter)}
                 data-testid="ls-auto-min-priority" onInput={(e) => setMinPriority(e.currentTarget.value)} />
          <FieldError id="ls-auto-filter-error" message={errors.push_filter} />
        </fieldset>
      )}

      <FormRefusals errors={errors} fields={FIELDS} testId="ls-link-error" />
      <div class="row">
        <button type="submit" class="primary" disabled={busy} data-testid="ls-link">
          {busy ? "Checking with Label Studio…" : current ? "Link again" : "Link"}</button>
      </div>
    </form>
  );
}
