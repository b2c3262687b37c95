// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as endpoints from "../src/api/endpoints";

vi.mock("../src/api/endpoints", () => ({
  readProject: vi.fn(async () => ({ id: 1, name: "P", label_classes: ["person"], role: "operator", stats: {} })),
  claimNext: vi.fn(async () => null),
  release: vi.fn(async () => undefined),
  releaseOnUnload: vi.fn(),
  heartbeat: vi.fn(async () => ({ lease_expires_at: "2026-12-02T00:00:00Z" })),
  skip: vi.fn(async () => undefined),
  submit: vi.fn(async () => undefined),
  assetUrl: (s: string) => `/a/${s}`,
  frameUrl: (s: string, n: number) => `/a/${s}/${n}`,
}));

afterEach(cleanup);

describe("the work loop", () => {
  it("claims with the chosen reason and says when the queue is empty", async () => {
    const { AnnotateView } = await import("../src/views/editor/AnnotateView");
    render(<AnnotateView project={1} />);
    await waitFor(() => expect((screen.getByTestId("claim-button") as HTMLButtonElement).disabled).toBe(false));
    const select = screen.getByTestId("claim-reason") as HTMLSelectElement;
    select.value = "disputed";
    fireEvent.change(select);
    fireEvent.click(screen.getByTestId("claim-button"));
    await screen.findByTestId("queue-empty");
    expect(endpoints.claimNext).toHaveBeenCalledWith(1, { reason: "disputed", prefetch: false });
  });

  it("resumes at once after a reload of a working tab", async () => {
    sessionStorage.setItem("loupe.working.1", "1");
    vi.mocked(endpoints.claimNext).mockClear();
    const { AnnotateView } = await import("../src/views/editor/AnnotateView");
    render(<AnnotateView project={1} />);
    await screen.findByTestId("queue-empty");
    expect(endpoints.claimNext).toHaveBeenCalledWith(1, { prefetch: false });
    expect(sessionStorage.getItem("loupe.working.1")).toBeNull(); // nothing left: the tab stops resuming
  });
});
