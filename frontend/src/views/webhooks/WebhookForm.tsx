/**
 * Add or edit a webhook: its URL, the events it receives, the signing secret (write-only: the server never shows
 * it again) and whether it is active. A refusal is shown beside the field it concerns, and nothing typed is lost.
 */

import { useRef, useState } from "preact/hooks";
import type { WebhookEvent, WebhookRow } from "../../api/endpoints";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { describedBy, focusFirstError } from "../../ui/fieldErrors";
import { SecretInput } from "../../ui/SecretInput";
import { FIELDS, type FieldErrors, MIN_SECRET_LENGTH, WEBHOOK_EVENTS, fieldErrors } from "./fields";

export interface WebhookValues {
  url: string;
  events: WebhookEvent[];
  /** Empty when editing and the secret stays as it is. */
  secret: string;
  active: boolean;
}

interface Props {
  /** The webhook being edited; none to add one. */
  webhook?: WebhookRow;
  onSave: (values: WebhookValues) => Promise<unknown>;
  onCancel?: () => void;
}

export function WebhookForm({ webhook, onSave, onCancel }: Props) {
  const editing = webhook !== undefined;
  const prefix = editing ? `webhook-${webhook.id}` : "webhook-new";
  const [url, setUrl] = useState(webhook?.url ?? "");
  const [events, setEvents] = useState<WebhookEvent[]>(webhook?.events ?? []);
  const [secret, setSecret] = useState("");
  const [active, setActive] = useState(webhook?.active ?? true);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const id = (part: string) => `${prefix}-${part}`;

  const toggle = (event: WebhookEvent, on: boolean) =>
    setEvents((now) => (on ? [...now.filter((e) => e !== event), event] : now.filter((e) => e !== event)));

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      // Keep the enum's order whatever the clicking order was.
      const chosen = WEBHOOK_EVENTS.map((w) => w.value).filter((v) => events.includes(v));
      await onSave({ url: url.trim(), events: chosen, secret, active });
      if (!editing) {
        setUrl("");
        setEvents([]);
        setSecret("");
        setActive(true);
      }
    } catch (err) {
      const found = fieldErrors(err);
      setErrors(found);
      // Take the keyboard to the first field to fix (the form keeps everything that was typed).
      focusFirstError(form.current, FIELDS, found);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} class="stack webhook-form" noValidate onSubmit={(e) => void submit(e)} data-testid={id("form")}
          aria-label={editing ? `Edit webhook ${webhook.url}` : "Add a webhook"}>
      <label for={id("url")}>Receiver URL</label>
      <input id={id("url")} type="url" inputMode="url" required value={url} maxLength={500} data-field="url"
             placeholder="https://hooks.example.com/loupe" autoComplete="off" spellcheck={false}
             aria-invalid={errors.url ? true : undefined} aria-describedby={describedBy(id("url-hint"), id("url-error"), !!errors.url)}
             data-testid={id("url")} onInput={(e) => setUrl(e.currentTarget.value)} />
      <p class="hint" id={id("url-hint")}>Loupe POSTs each event here as JSON, signed in the X-Loupe-Signature header.</p>
      <FieldError id={id("url-error")} message={errors.url} />

      <fieldset class="events" aria-describedby={describedBy(undefined, id("events-error"), !!errors.events)} aria-invalid={errors.events ? true : undefined}>
        <legend>Events to send</legend>
        {WEBHOOK_EVENTS.map((w, i) => (
          <label class="check" key={w.value}>
            <input type="checkbox" checked={events.includes(w.value)} data-testid={id(`event-${w.value}`)}
                   data-field={i === 0 ? "events" : undefined}
                   onChange={(e) => toggle(w.value, e.currentTarget.checked)} />
            <span>{w.label} <small>({w.value}: {w.hint})</small></span>
          </label>
        ))}
        <FieldError id={id("events-error")} message={errors.events} />
      </fieldset>

      <SecretInput id={id("secret")} field="secret" value={secret} onInput={setSecret} error={errors.secret}
                   required={!editing}
                   label={editing ? "New secret (leave empty to keep the current one)" : "Signing secret"}
                   hint={<>At least {MIN_SECRET_LENGTH} characters. The receiver checks each delivery with it
                     (HMAC-SHA256 of the body). Copy it to the receiver now: Loupe never shows it again.</>} />

      <label class="check">
        <input type="checkbox" checked={active} data-testid={id("active")}
               onChange={(e) => setActive(e.currentTarget.checked)} />
        Active (paused webhooks receive no events; “Send test” still works)
      </label>

      <FormRefusals errors={errors} fields={FIELDS} testId={id("error")} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy} data-testid={id("save")}>
          {busy ? "Saving…" : editing ? "Save changes" : "Add webhook"}</button>
        {onCancel && <button type="button" onClick={onCancel} data-testid={id("cancel")}>Cancel</button>}
      </div>
    </form>
  );
}
