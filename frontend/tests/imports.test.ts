import { describe, expect, it } from "vitest";

import { parseRoute } from "../src/router";
import { mayOpen } from "../src/roles";
import { ACCEPTED, describeReport, whereRefused } from "../src/views/imports/ImportView";

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
    expect(describeReport({ ...report, format: "yolo", dry_run: false, already_present: 0 }))
      .toBe("A YOLO dataset: queued 2 images with 3 boxes for review.");
    expect(describeReport({ ...report, format: "label-studio-min", already_present: 0 }))
      .toBe("A Label Studio JSON-MIN export: would queue 2 images with 3 boxes for review.");
  });

  it("offers every format the server reads, archives included", () => {
    for (const type of [".json", ".csv", ".xml", ".zip", ".tar"]) expect(ACCEPTED.split(",")).toContain(type);
  });

  it("says where a refused file is wrong", () => {
    expect(whereRefused({ task: 3, annotation: 1, result: 0, field: "value.rectanglelabels", label: "dog" }))
      .toBe("task 3, annotation 1, result 0, field value.rectanglelabels, label dog");
    expect(whereRefused({})).toBe("");
    expect(whereRefused({ file: "labels/train/a.txt", line: 4, field: "class" }))
      .toBe("labels/train/a.txt, line 4, field class");
    expect(whereRefused({ file: "$", reason: "bad zip" })).toBe("");
    expect(whereRefused({ file: "Annotations/a.xml", object: 1, field: "bndbox.xmin" }))
      .toBe("Annotations/a.xml, object 1, field bndbox.xmin");
  });
});
