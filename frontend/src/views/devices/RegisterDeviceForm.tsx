/**
 * "Register a device" (admins): site, device name and cameras. The answer's token is shown once, with a copy
 * button and the lines to paste on the device; it is not stored in the browser and not shown again.
 */

import { useRef, useState } from "preact/hooks";
import type { DeviceRegistration, IssuedDevice } from "../../api/endpoints";
import { FieldError, FormRefusals } from "../../ui/FieldError";
import { type FieldErrors, describedBy, focusFirstError, messagesByField } from "../../ui/fieldErrors";
import { edgeSetupScript } from "./edgeCommand";

const FIELDS = ["site", "name", "cameras"] as const;
type Field = (typeof FIELDS)[number];

export const cameraNames = (text: string) => text.split(/[,\n]/).map((c) => c.trim()).filter(Boolean);

function CopyButton({ text, testId, label }: { text: string; testId: string; label: string }) {
  const [copied, setCopied] = useState<"" | "copied" | "failed">("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("copied");
    } catch {
      setCopied("failed");
    }
  };
  return (
    <>
      <button type="button" data-testid={testId} onClick={() => void copy()}>{label}</button>
      <span role="status" class="muted">{copied === "copied" ? "Copied." : copied === "failed"
        ? "Could not copy: select the text and copy it by hand." : ""}</span>
    </>
  );
}

export function IssuedToken({ issued, origin, onDone }: { issued: IssuedDevice; origin: string; onDone: () => void }) {
  const script = edgeSetupScript(origin, issued.token, issued.device.cameras.map((c) => c.name));
  return (
    <section class="card stack" aria-labelledby="issued-title" data-testid="issued-token">
      <h2 id="issued-title">Token of {issued.device.name}</h2>
      <p><strong>Copy it now: it is shown only once.</strong> Loupe keeps only its hash; if it is lost, revoke the
        device and register it again.</p>
      <div class="row">
        <code data-testid="issued-token-value">{issued.token}</code>
        <CopyButton text={issued.token} testId="issued-token-copy" label="Copy token" />
      </div>
      <p>On the device, store the token and start the edge client:</p>
      <pre class="commands" data-testid="issued-command">{script}</pre>
      <div class="row">
        <CopyButton text={script} testId="issued-command-copy" label="Copy commands" />
        <button type="button" class="primary" data-testid="issued-done" onClick={onDone}>I have stored the token</button>
      </div>
    </section>
  );
}

export function RegisterDeviceForm({ onRegister }: { onRegister: (body: DeviceRegistration) => Promise<void> }) {
  const [site, setSite] = useState("");
  const [name, setName] = useState("");
  const [cameras, setCameras] = useState("");
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      await onRegister({ site: site.trim(), name: name.trim(), cameras: cameraNames(cameras) });
      setSite("");
      setName("");
      setCameras("");
    } catch (err) {
      const found: FieldErrors<Field> = messagesByField(err, FIELDS)
        ?? { form: err instanceof Error ? err.message : String(err) };
      setErrors(found);
      focusFirstError(form.current, FIELDS, found);
    } finally {
      setBusy(false);
    }
  };

  const input = (field: Field, label: string, value: string, set: (v: string) => void, hint?: string) => (
    <>
      <label>
        {label}
        <input data-field={field} data-testid={`register-${field}`} value={value} required maxLength={field === "cameras" ? 2000 : 120}
               aria-invalid={errors[field] ? true : undefined}
               aria-describedby={describedBy(hint ? `register-${field}-hint` : undefined, `register-${field}-error`, !!errors[field])}
               onInput={(e) => set(e.currentTarget.value)} />
      </label>
      {hint && <small id={`register-${field}-hint`}>{hint}</small>}
      <FieldError id={`register-${field}-error`} message={errors[field]} />
    </>
  );

  return (
    <form ref={form} class="card stack" aria-labelledby="register-title" onSubmit={submit} noValidate data-testid="register-form">
      <h2 id="register-title">Register a device</h2>
      {input("site", "Site", site, setSite, "A store, depot or route; created if new.")}
      {input("name", "Device name", name, setName, "Unique in the project, e.g. main-st-door.")}
      {input("cameras", "Cameras", cameras, setCameras, "Camera names, separated by commas.")}
      <FormRefusals errors={errors} fields={FIELDS} testId="register-error" />
      <button type="submit" class="primary" disabled={busy} data-testid="register-submit">Register and show its token</button>
    </form>
  );
}
