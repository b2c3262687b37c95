import { describe, expect, it } from "vitest";
import { href, parseRoute } from "../src/router";
import { ROLE_WORK } from "../src/views/HomeView";

describe("the operator's entry point", () => {
  it("opens the work view filtered to disputed clips", () => {
    const operator = ROLE_WORK.operator[0]!;
    expect(operator.label).toBe("Review disputed clips");
    expect(parseRoute(operator.to(7))).toEqual({ name: "work", project: 7, reason: "disputed" });
  });

  it("keeps the annotator's work unfiltered and ignores a malformed reason", () => {
    expect(parseRoute(href.work(7))).toEqual({ name: "work", project: 7, reason: null });
    expect(parseRoute("#/projects/7/work/DROP%20TABLE")).toEqual({ name: "work", project: 7, reason: null });
  });
});
