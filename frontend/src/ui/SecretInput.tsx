/**
 * A write-only shared secret (webhook signing, training pipeline callbacks): hidden by default, "Show" to check
 * it, "Generate" for a strong random one (shown, so it can be copied to the other side).
 */

import { useEffect, useState } from "preact/hooks";
import { describedBy } from "./fieldErrors";
import { FieldError } from "./FieldError";

/** 32 random bytes as 64 hex characters, from the browser's CSPRNG. */
export function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

interface Props {
  /** The input's id and test id; `-show`, `-generate`, `-hint` and `-error` are derived from it. */
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  hint: preact.ComponentChildren;
  error: string | undefined;
  /** The form's name for the field, for `focusFirstError`. */
  field: string;
  required?: boolean;
}

export function SecretInput({ id, label, value, onInput, hint, error, field, required = false }: Props) {
  const [show, setShow] = useState(false);
  // A cleared field (after a save) hides again.
  useEffect(() => { if (!value) setShow(false); }, [value]);
  return (
    <>
      <label for={id}>{label}</label>
      <div class="row">
        <input id={id} class="grow" type={show ? "text" : "password"} value={value} data-field={field}
               required={required} autoComplete="new-password" spellcheck={false} maxLength={128}
               aria-invalid={error ? true : undefined} aria-describedby={describedBy(`${id}-hint`, `${id}-error`, !!error)}
               data-testid={id} onInput={(e) => onInput(e.currentTarget.value)} />
        <button type="button" aria-pressed={show} aria-controls={id} data-testid={`${id}-show`}
                onClick={() => setShow((s) => !s)}>{show ? "Hide" : "Show"}</button>
        <button type="button" data-testid={`${id}-generate`} aria-controls={id}
                onClick={() => { onInput(generateSecret()); setShow(true); }}>Generate</button>
      </div>
      <p class="hint" id={`${id}-hint`}>{hint}</p>
      <FieldError id={`${id}-error`} message={error} />
    </>
  );
}
