// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { markBaseDraw, markRedraw, markSubmit, type PerfLog } from "../src/perf";

const log = () => (window as unknown as { __loupePerf: PerfLog }).__loupePerf;

describe("perf marks (bench/frontend.py reads them)", () => {
  it("records submits and base draws with the image they concern", () => {
    const image = new Image();
    image.src = "http://localhost/api/v1/assets/abc";
    markSubmit(image);
    markBaseDraw(image);
    expect(log().submits.at(-1)?.src).toBe("http://localhost/api/v1/assets/abc");
    expect(log().baseDraws.at(-1)?.at).toBeGreaterThanOrEqual(log().submits.at(-1)!.at);
  });

  it("keeps bounded buffers", () => {
    for (let i = 0; i < 1500; i++) markRedraw(i);
    expect(log().redraws).toHaveLength(1000);
    expect(log().redraws[999]).toBe(1499);
  });
});
