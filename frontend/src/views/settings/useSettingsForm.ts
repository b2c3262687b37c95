/**
 * The state and Save of a settings form (./SettingsView.tsx, ./RetentionSettings.tsx): one text per field,
 * refusals beside their field with the keyboard taken to the first, a notice when nothing changed, and after a
 * save the fields show what the server stored.
 */

import { useRef, useState } from "preact/hooks";
import { describeError } from "../../api/errors";
import { type FieldErrors, focusFirstError, messagesByField } from "../../ui/fieldErrors";

export interface SettingsFormOptions<S, F extends string, C extends object> {
  /** What the server holds now. */
  stored: S;
  /** The form's fields, in the order the keyboard visits them. */
  fields: readonly F[];
  /** The text each field shows for a stored value. */
  draftOf: (stored: S) => Record<F, string>;
  /** What differs from `stored`, and a sentence for each field whose text is not a value. */
  changesFrom: (stored: S, draft: Record<F, string>) => { changes: C; errors: FieldErrors<F> };
  save: (changes: C) => Promise<S>;
  /** The notice when no field changed. */
  nothingToSave: string;
  onSaved: (saved: S) => void;
}

export function useSettingsForm<S, F extends string, C extends object>(
  { stored, fields, draftOf, changesFrom, save, nothingToSave, onSaved }: SettingsFormOptions<S, F, C>) {
  const [draft, setDraft] = useState<Record<F, string>>(() => draftOf(stored));
  const [errors, setErrors] = useState<FieldErrors<F>>({});
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  const setField = (field: F, value: string) => setDraft((d) => ({ ...d, [field]: value }));

  const submit = async (e: Event) => {
    e.preventDefault();
    setNotice("");
    const { changes, errors: refused } = changesFrom(stored, draft);
    setErrors(refused);
    if (Object.keys(refused).length > 0) {
      focusFirstError(form.current, fields, refused);
      return;
    }
    if (Object.keys(changes).length === 0) {
      setNotice(nothingToSave);
      return;
    }
    setBusy(true);
    try {
      const saved = await save(changes);
      onSaved(saved);
      setDraft(draftOf(saved));
      setNotice("Saved.");
    } catch (err) {
      // The server's refusal beside its field; anything else (lost session, server down) above the buttons.
      // (The cast: while F is generic, TypeScript cannot see that either side is a FieldErrors<F>.)
      const found = (messagesByField(err, fields) ?? { form: describeError(err) }) as FieldErrors<F>;
      setErrors(found);
      focusFirstError(form.current, fields, found);
    } finally {
      setBusy(false);
    }
  };

  return { form, draft, setField, errors, notice, busy, submit };
}
