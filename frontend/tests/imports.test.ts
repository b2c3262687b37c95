import { describe, expect, it } from "vitest";

import { parseRoute } from "../src/router";
import { mayOpen } from "../src/roles";
import { describeReport, whereRefused } from "../src/views/imports/ImportView";

const report = { format: "label-studio", items: 2, boxes: 3, already_present: 1, dry_run: true, item_ids: [] };

describe("the import page", () => {
  it("is an admin's page at #/projects/N/imports", () => {
    expect(parseRoute("#/projects/4/imports")).toEqual({ name: "imports", project: 4 });
    expect(mayOpen("imports", "admin")).toBe(true);
    expect(mayOpen("imports", "reviewer")).toBe(false);
  });

  it("says what a check would queue and what Loupe already holds", () => {
    expect(describeReport(report)).toBe("A Label Studio task list: would queue 2 images with 3 boxes for review; "
      + "1 already in Loupe with these labels, left as they are.");
    expect(describeReport({ ...report, format: "coco", items: 1, boxes: 1, already_present: 0, dry_run: false }))
      .toBe("A COCO file: queued 1 image with 1 box for review.");
  });

  it("says where a refused file is wrong", () => {
    expect(whereRefused({ task: 3, annotation: 1, result: 0, field: "value.rectanglelabels", label: "dog" }))
      .toBe("task 3, annotation 1, result 0, field value.rectanglelabels, label dog");
    expect(whereRefused({})).toBe("");
  });
});
