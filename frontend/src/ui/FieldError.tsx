/** A refusal shown under the field it concerns (its id is in the input's `aria-describedby`). */
export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return <p class="field-error" id={id} data-testid={id}>{message}</p>;
}
