import { describe, expect, it } from "vitest";
import { makeApi, readCookie, unwrap } from "../src/api/client";
import { ApiError, describeError, toApiError } from "../src/api/errors";

describe("error mapping", () => {
  it("maps the backend envelope to a typed ApiError", () => {
    const e = toApiError(409, { error: { code: "lease_lost", message: "Your lease expired.", details: { item: 3 } } });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(409);
    expect(e.code).toBe("lease_lost");
    expect(e.leaseLost).toBe(true);
    expect(e.details).toEqual({ item: 3 });
  });

  it("falls back to a status-based code for bodies that are not the envelope", () => {
    expect(toApiError(502, "<html>Bad gateway</html>").code).toBe("server_error");
    expect(toApiError(403, { detail: "x" }).code).toBe("permission_denied");
    expect(toApiError(418, undefined).code).toBe("http_error");
  });

  it("describes field errors for a banner", () => {
    const e = toApiError(400, { error: { code: "invalid", message: "Invalid input.", details: { comment: ["Needed."] } } });
    expect(describeError(e)).toBe("Invalid input. (comment: Needed.)");
  });
});

describe("the HTTP client", () => {
  it("sends the CSRF token on writes, same-origin credentials, and throws ApiError on failure", async () => {
    Object.defineProperty(globalThis, "document", { value: { cookie: "a=1; csrftoken=tok%3Den" }, configurable: true });
    const seen: Request[] = [];
    const fake: typeof fetch = async (input) => {
      seen.push(input as Request);
      return new Response(JSON.stringify({ error: { code: "lease_lost", message: "Lost." } }),
                          { status: 409, headers: { "Content-Type": "application/json" } });
    };
    const client = makeApi(fake, "http://testserver");
    const result = await client.POST("/api/v1/items/{item_id}/heartbeat", {
      params: { path: { item_id: 4 } }, body: { lease_token: "t", prefetch: false },
    });
    expect(() => unwrap(result)).toThrowError(ApiError);
    expect(seen[0]!.headers.get("X-CSRFToken")).toBe("tok=en");
    expect(seen[0]!.credentials).toBe("same-origin");
    expect(new URL(seen[0]!.url).pathname).toBe("/api/v1/items/4/heartbeat");
  });

  it("reads cookies by exact name", () => {
    expect(readCookie("csrftoken", "xcsrftoken=no; csrftoken=yes")).toBe("yes");
    expect(readCookie("missing", "a=1")).toBeNull();
  });
});
