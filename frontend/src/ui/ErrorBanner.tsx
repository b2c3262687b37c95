import { describeError } from "../api/errors";

/** An error as text (never markup), announced to screen readers. */
export function ErrorBanner({ error, testId = "error" }: { error: unknown; testId?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <p class="banner banner-error" role="alert" data-testid={testId}>
      {describeError(error)}
    </p>
  );
}
