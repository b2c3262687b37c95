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

afterEach(() => {
  cleanup();
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

describe("submit in the work loop", () => {
  it("claims the next item while the submit request is in flight, and shows it once both are done", async () => {
    vi.mocked(endpoints.claimNext).mockResolvedValueOnce(claimed(1)).mockResolvedValueOnce(claimed(2));
    let finishSubmit: () => void = () => undefined;
    vi.mocked(endpoints.submit).mockImplementation(() => new Promise((done) => { finishSubmit = () => done({} as never); }));
    await openFirstItem();
    fireEvent.click(screen.getByTestId("submit"));
    await waitFor(() => expect(endpoints.claimNext).toHaveBeenCalledTimes(2)); // before the submit answered
    expect(screen.getByTestId("editor-canvas").getAttribute("aria-label")).toContain("Item 1");
    finishSubmit();
    await waitFor(() => expect(screen.getByTestId("editor-canvas").getAttribute("aria-label")).toContain("Item 2"));
    expect(endpoints.release).not.toHaveBeenCalled();
  });

  it("gives the claimed next item back when the submit fails", async () => {
    vi.mocked(endpoints.claimNext).mockResolvedValueOnce(claimed(1)).mockResolvedValueOnce(claimed(2));
    vi.mocked(endpoints.submit).mockRejectedValue(new Error("boom"));
    await openFirstItem();
    fireEvent.click(screen.getByTestId("submit"));
    await waitFor(() => expect(endpoints.release).toHaveBeenCalledWith(2, "tok-2"));
    expect(screen.getByTestId("editor-canvas").getAttribute("aria-label")).toContain("Item 1");
    expect(screen.getByTestId("error").textContent).toContain("boom");
  });
});
