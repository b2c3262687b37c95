// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as endpoints from "../src/api/endpoints";
import type { ClaimedItem } from "../src/api/shapes";

const claimed = (id: number): ClaimedItem => ({
  id, project: 1, reason: "low_confidence", priority: 0.5, score_parts: {}, status: "leased", site: 1, camera: 1,
  lease_token: `tok-${id}`, lease_expires_at: new Date(Date.now() + 300_000).toISOString(), last_comment: "", last_comment_region: null,
  asset: { sha256: String(id).repeat(64).slice(0, 64), kind: "frame", content_type: "image/jpeg", width: 64, height: 48,
           fps: null, frame_count: null, url: "/x" },
  prelabel: null,
});

vi.mock("../src/api/endpoints", () => ({
  readProject: vi.fn(async () => ({ id: 1, name: "P", label_classes: ["person"], role: "annotator", stats: {} })),
  claimNext: vi.fn(),
  release: vi.fn(async () => undefined),
  submit: vi.fn(),
  heartbeat: vi.fn(async () => ({ lease_expires_at: new Date(Date.now() + 300_000).toISOString() })),
  assetUrl: (s: string) => `/a/${s}`,
  frameUrl: (s: string, n: number) => `/a/${s}/${n}`,
}));
vi.mock("../src/views/editor/media", () => ({
  loadImage: vi.fn(async () => ({ naturalWidth: 64, naturalHeight: 48 }) as HTMLImageElement),
}));

afterEach(async () => {
  cleanup();
  await new Promise((done) => setTimeout(done, 0)); // let the unmount's lease releases settle first
  vi.mocked(endpoints.claimNext).mockReset();
  vi.mocked(endpoints.submit).mockReset();
  vi.mocked(endpoints.release).mockClear();
});

async function openFirstItem() {
  const { AnnotateView } = await import("../src/views/editor/AnnotateView");
  render(<AnnotateView project={1} />);
  await waitFor(() => expect((screen.getByTestId("claim-button") as HTMLButtonElement).disabled).toBe(false));
  fireEvent.click(screen.getByTestId("claim-button"));
  await screen.findByTestId("editor-canvas");
}

describe("the work loop prefetches the next item", () => {
  it("claims the next item while the current one is worked on, and submit shows it without a new claim", async () => {
    vi.mocked(endpoints.claimNext).mockResolvedValueOnce(claimed(1)).mockResolvedValueOnce(claimed(2))
      .mockResolvedValueOnce(claimed(3));
    vi.mocked(endpoints.submit).mockResolvedValue({} as never);
    await openFirstItem();
    await waitFor(() => expect(endpoints.claimNext).toHaveBeenCalledTimes(2)); // item 2, before any submit
    fireEvent.click(screen.getByTestId("submit"));
    await waitFor(() => expect(screen.getByTestId("editor-canvas").getAttribute("aria-label")).toContain("Item 2"));
    await waitFor(() => expect(endpoints.claimNext).toHaveBeenCalledTimes(3)); // and item 3 behind it
    expect(endpoints.release).not.toHaveBeenCalled();
  });

  it("keeps the prefetched item when the submit fails, and gives both leases back on leaving", async () => {
    vi.mocked(endpoints.claimNext).mockResolvedValueOnce(claimed(1)).mockResolvedValueOnce(claimed(2));
    vi.mocked(endpoints.submit).mockRejectedValue(new Error("boom"));
    await openFirstItem();
    await waitFor(() => expect(endpoints.claimNext).toHaveBeenCalledTimes(2));
    fireEvent.click(screen.getByTestId("submit"));
    await waitFor(() => expect(screen.getByTestId("error").textContent).toContain("boom"));
    expect(screen.getByTestId("editor-canvas").getAttribute("aria-label")).toContain("Item 1");
    expect(endpoints.release).not.toHaveBeenCalled();
    cleanup(); // the annotator leaves the view
    await waitFor(() => expect(endpoints.release).toHaveBeenCalledWith(2, "tok-2"));
    expect(endpoints.release).toHaveBeenCalledWith(1, "tok-1");
  });
});
