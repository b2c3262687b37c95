// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import * as endpoints from "../src/api/endpoints";
import { ApiError } from "../src/api/errors";
import type { ItemHistory } from "../src/api/shapes";

const history: ItemHistory = {
  item: {
    id: 5, project: 1, reason: "audit_sample", priority: 0.5, score_parts: {}, status: "submitted", site: 1, camera: 2,
    lease_token: "", lease_expires_at: null, last_comment: "", last_comment_region: null,
    asset: { sha256: "a".repeat(64), kind: "frame", content_type: "image/jpeg", width: 640, height: 360, fps: null,
             frame_count: null, url: "/x" },
    prelabel: { prediction: 1, model: { name: "det", version: "3" }, frame_index: 0, count: null,
                captured_at: "2026-01-01T00:00:00Z", boxes: [{ label: "person", score: 0.9, box: [10, 20, 30, 40] }] },
  },
  versions: [{ id: 11, version: 1, origin: "person", author__username: "alice", verdict: "correct", note: "", count: null,
               boxes: [{ label: "person", box: [10, 20, 30, 40] }, { label: "person", box: [200, 20, 30, 40] }],
               diff: {}, time_spent_seconds: 3, submitted_at: "2026-01-01T00:00:00Z" }],
  events: [],
} as unknown as ItemHistory;

vi.mock("../src/api/endpoints", () => ({
  readProject: vi.fn(async () => ({ id: 1, name: "P", label_classes: ["person"], role: "reviewer", stats: {} })),
  itemHistory: vi.fn(async () => history),
  listItems: vi.fn(async () => [{ id: 5 }, { id: 6 }]),
  review: vi.fn(async (id: number, body: { decision: string }) => ({
    id, status: body.decision === "accept" ? "accepted" : "pending" })),
  assetUrl: (s: string) => `/a/${s}`,
  frameUrl: (s: string, n: number) => `/a/${s}/${n}`,
}));
vi.mock("../src/views/editor/media", () => ({
  loadImage: vi.fn(async () => ({ naturalWidth: 640, naturalHeight: 360 })),
}));

beforeAll(async () => { await import("../src/views/qa/QaView"); }, 60_000); // a cold load is slow on a busy CI box
beforeEach(() => {
  window.location.hash = "#/projects/1/qa/5";
  vi.mocked(endpoints.review).mockClear();
});
afterEach(cleanup);

async function open() {
  const { QaView } = await import("../src/views/qa/QaView");
  render(<QaView project={1} item={5} />);
  await screen.findByTestId("qa-canvas");
}

describe("QA at speed", () => {
  it("shows what changed since the model's pre-label, and a accepts and opens the next item", async () => {
    await open();
    expect(screen.getByTestId("qa-diff-legend").textContent).toContain("Model pre-label → v1: 1 added");
    expect(screen.getByTestId("qa-diff-kept").textContent).toContain("1 kept");
    fireEvent.keyDown(document.body, { key: "a" });
    await waitFor(() => expect(window.location.hash).toBe("#/projects/1/qa/6"));
    expect(endpoints.review).toHaveBeenCalledWith(5, { decision: "accept", comment: "", region: null });
  });

  it("r goes to the comment and Ctrl+Enter rejects with it", async () => {
    await open();
    fireEvent.keyDown(document.body, { key: "r" });
    const comment = screen.getByTestId("qa-comment") as HTMLTextAreaElement;
    expect(document.activeElement).toBe(comment);
    fireEvent.keyDown(comment, { key: "a" }); // typing, not a shortcut
    comment.value = "Box 2 is a mannequin";
    fireEvent.input(comment);
    fireEvent.keyDown(comment, { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(endpoints.review).toHaveBeenCalledTimes(1));
    expect(endpoints.review).toHaveBeenCalledWith(5, { decision: "reject", comment: "Box 2 is a mannequin",
                                                      region: null });
  });

  it("a rejection without a comment asks for one and sends nothing", async () => {
    await open();
    fireEvent.click(screen.getByTestId("qa-reject"));
    expect(document.activeElement).toBe(screen.getByTestId("qa-comment"));
    expect(endpoints.review).not.toHaveBeenCalled();
  });

  it("fix and accept sends the reviewer's boxes", async () => {
    await open();
    fireEvent.keyDown(document.body, { key: "[" }); // select the last box
    fireEvent.keyDown(document.body, { key: "Delete" });
    await waitFor(() => expect(screen.getByTestId("qa-accept").textContent).toBe("Fix and accept (a)"));
    expect(screen.getByTestId("qa-fix-summary").textContent).toContain("1 deleted");
    fireEvent.keyDown(document.body, { key: "a" });
    await waitFor(() => expect(endpoints.review).toHaveBeenCalledTimes(1));
    expect(endpoints.review).toHaveBeenCalledWith(5, { decision: "accept", comment: "", region: null,
                                                      boxes: [{ label: "person", box: [10, 20, 30, 40] }] });
  });

  it("moves on when someone else decided first (never a 409 for the person)", async () => {
    vi.mocked(endpoints.review).mockRejectedValueOnce(new ApiError(409, "not_awaiting_review", "decided"));
    await open();
    fireEvent.click(screen.getByTestId("qa-accept"));
    await waitFor(() => expect(window.location.hash).toBe("#/projects/1/qa/6"));
  });

  it("n opens the next item without deciding", async () => {
    await open();
    fireEvent.keyDown(document.body, { key: "n" });
    await waitFor(() => expect(window.location.hash).toBe("#/projects/1/qa/6"));
    expect(endpoints.review).not.toHaveBeenCalled();
  });

  it("lists the QA shortcuts on ?", async () => {
    await open();
    fireEvent.keyDown(document.body, { key: "?" });
    const help = await screen.findByTestId("help-overlay");
    const { QA_COMMANDS } = await import("../src/views/qa/commands");
    for (const c of QA_COMMANDS) expect(help.textContent).toContain(c.label);
  });
});
