import { describe, expect, it } from "vitest";
import { ApiError, describeError } from "../src/api/errors";

describe("describeError", () => {
  it("says a rate limit plainly, without the raw details", () => {
    const error = new ApiError(429, "rate_limited", "Too many requests. Try again in 55 seconds.", { retry_after: 55 });
    expect(describeError(error)).toBe("Too many requests. Try again in 55 seconds.");
  });

  it("names the fields of a refusal", () => {
    const error = new ApiError(400, "invalid", "The request is not valid.", { name: ["Too long."] });
    expect(describeError(error)).toBe("The request is not valid. (name: Too long.)");
  });
});
