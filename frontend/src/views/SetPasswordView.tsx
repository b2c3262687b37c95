/**
 * "Set your password": the page of the invitation and password-reset emails (`/set-password?uid=…&token=…`).
 * The server's password rules come back beside the field; once set, the person signs in with the new password.
 */

import { useRef, useState } from "preact/hooks";
import { setPassword } from "../api/endpoints";
import { ApiError } from "../api/errors";
import { FieldError, FormRefusals } from "../ui/FieldError";
import { type FieldErrors, describedBy, focusFirstError } from "../ui/fieldErrors";

const FIELDS = ["new_password", "confirm"] as const;
type Field = (typeof FIELDS)[number];

/** The refusal of a password-set call as messages by field (`weak_password` lists the rules broken). */
export function passwordErrors(error: unknown): FieldErrors<Field> {
  if (error instanceof ApiError && (error.code === "weak_password" || error.code === "invalid")) {
    const rules = error.details.new_password;
    if (Array.isArray(rules) && rules.length > 0) return { new_password: rules.map(String).join(" ") };
  }
  if (error instanceof ApiError && error.code === "invalid_link") {
    return { form: `${error.message} Ask for a new link: an admin can invite you again, or use “Forgot password”.` };
  }
  return { form: error instanceof Error ? error.message : String(error) };
}

export function SetPasswordView({ uid, token }: { uid: string; token: string }) {
  const [password, setPasswordValue] = useState("");
  const [confirm, setConfirm] = useState("");
  const [errors, setErrors] = useState<FieldErrors<Field>>({});
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const found: FieldErrors<Field> = password !== confirm ? { confirm: "The two passwords differ." } : {};
    if (found.confirm) {
      setErrors(found);
      focusFirstError(form.current, FIELDS, found);
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      await setPassword({ uid, token, new_password: password });
      setDone(true);
    } catch (err) {
      const refused = passwordErrors(err);
      setErrors(refused);
      focusFirstError(form.current, FIELDS, refused);
    } finally {
      setBusy(false);
    }
  };

  if (!uid || !token) {
    return (
      <main class="page login">
        <h1>Set your password</h1>
        <p class="banner banner-error" role="alert" data-testid="set-password-bad-link">
          This link is incomplete. Open the whole link from your email, or <a href="/#/login">sign in</a>.
        </p>
      </main>
    );
  }

  if (done) {
    return (
      <main class="page login">
        <h1>Password set</h1>
        <p role="status" data-testid="set-password-done">
          Your password is set. <a href="/#/login" data-testid="set-password-sign-in">Sign in</a> with your username
          and the new password.
        </p>
      </main>
    );
  }

  return (
    <main class="page login">
      <h1>Set your password</h1>
      <form ref={form} onSubmit={submit} class="card stack" aria-label="Set your password" noValidate>
        <label>
          New password
          <input name="new_password" type="password" autoComplete="new-password" required data-field="new_password"
                 data-testid="set-password-new" value={password} aria-invalid={errors.new_password ? true : undefined}
                 aria-describedby={describedBy("set-password-hint", "set-password-new-error", !!errors.new_password)}
                 onInput={(e) => setPasswordValue(e.currentTarget.value)} />
        </label>
        <small id="set-password-hint">At least 8 characters, not only digits, not a common password, not like your username.</small>
        <FieldError id="set-password-new-error" message={errors.new_password} />
        <label>
          Repeat the password
          <input name="confirm" type="password" autoComplete="new-password" required data-field="confirm"
                 data-testid="set-password-confirm" value={confirm} aria-invalid={errors.confirm ? true : undefined}
                 aria-describedby={describedBy(undefined, "set-password-confirm-error", !!errors.confirm)}
                 onInput={(e) => setConfirm(e.currentTarget.value)} />
        </label>
        <FieldError id="set-password-confirm-error" message={errors.confirm} />
        <FormRefusals errors={errors} fields={FIELDS} testId="set-password-error" />
        <button type="submit" class="primary" disabled={busy} data-testid="set-password-submit">Set password</button>
      </form>
    </main>
  );
}
