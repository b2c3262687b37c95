import { describe, expect, it } from "vitest";

import { authorOf } from "../src/api/shapes";

describe("authorOf", () => {
  it("names the annotator, the consensus, or Loupe's own repair", () => {
    expect(authorOf({ origin: "person", author__username: "alice" })).toBe("alice");
    expect(authorOf({ origin: "review", author__username: "bob" })).toBe("bob");
    expect(authorOf({ origin: "consensus", author__username: null })).toBe("consensus");
    expect(authorOf({ origin: "repair", author__username: null })).toBe("Loupe (repair)");
  });
});
