import { type FieldErrors, hasFieldError } from "./fieldErrors";

/** A refusal shown under the field it concerns (its id is in the input's `aria-describedby`). */
export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return <p class="field-error" id={id} data-testid={id}>{message}</p>;
}

/** Above a form's buttons: the refusal that concerns no field, and (for screen readers) that fields need a look. */
export function FormRefusals<F extends string>({ errors, fields, testId }:
  { errors: FieldErrors<F>; fields: readonly F[]; testId: string }) {
  return (
    <>
      {errors.form && <p class="banner banner-error" role="alert" data-testid={testId}>{errors.form}</p>}
      {hasFieldError(errors, fields) && <p class="sr-only" role="alert">Not saved: please check the highlighted fields.</p>}
    </>
  );
}
