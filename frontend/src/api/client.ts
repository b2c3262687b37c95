/** The one HTTP client: typed against the generated OpenAPI schema, session + CSRF, errors as ApiError. */

import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { toApiError } from "./errors";

export function readCookie(name: string, cookie: string = globalThis.document?.cookie ?? ""): string | null {
  for (const part of cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Django's CSRF check for session-authenticated writes. */
export const csrfMiddleware: Middleware = {
  onRequest({ request }) {
    if (!SAFE_METHODS.has(request.method)) {
      const token = readCookie("csrftoken");
      if (token) request.headers.set("X-CSRFToken", token);
    }
    return request;
  },
};

export type Api = ReturnType<typeof makeApi>;

export function makeApi(fetchImpl?: typeof fetch, baseUrl = "") {
  const client = createClient<paths>({
    baseUrl,
    credentials: "same-origin",
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  client.use(csrfMiddleware);
  return client;
}

export interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful call (undefined for 204), or throw the typed ApiError. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.response.ok) throw toApiError(result.response.status, result.error);
  return result.data as T;
}

export const api = makeApi();
