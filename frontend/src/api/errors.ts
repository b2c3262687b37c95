/** The backend's error envelope (API.md, "Errors") as a typed exception the views can switch on. */

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** 409 lease_lost: the item was released, expired or taken over; the work cannot be submitted. */
  get leaseLost(): boolean {
    return this.status === 409 && this.code === "lease_lost";
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== "object" || body === null || !("error" in body)) return false;
  const error = (body as { error: unknown }).error;
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string";
}

const FALLBACK_CODES: Record<number, string> = {
  400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found", 409: "conflict",
  413: "too_large", 415: "unsupported_media_type", 422: "unprocessable", 429: "throttled", 503: "unavailable",
};

/** Map any failed response body (envelope, proxy HTML page, nothing) to an ApiError. */
export function toApiError(status: number, body: unknown): ApiError {
  if (isErrorBody(body)) {
    const { code, message, details } = body.error;
    return new ApiError(status, code, message || code, details ?? {});
  }
  const code = FALLBACK_CODES[status] ?? (status >= 500 ? "server_error" : "http_error");
  return new ApiError(status, code, `The server answered ${status}.`);
}

/** A readable one-liner for a banner: the message plus field errors from `details`. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === "rate_limited") return error.message; // it already says when to try again
    const fields = Object.entries(error.details)
      .map(([field, value]) => `${field}: ${Array.isArray(value) ? value.join(" ") : JSON.stringify(value)}`)
      .join("; ");
    return fields ? `${error.message} (${fields})` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
