// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ItemHistory } from "../src/api/shapes";

const XSS = "<img src=x onerror=alert(1)>";

vi.mock("../src/api/endpoints", () => ({
  itemHistory: vi.fn(async (): Promise<ItemHistory> => ({
    item: {
      id: 5, project: 1, reason: "low_confidence", priority: 0.5, score_parts: {}, status: "pending", site: null,
      camera: null, lease_token: "", lease_expires_at: null, last_comment: XSS, last_comment_region: null, asset: null, prelabel: null,
    },
    versions: [{ id: 1, version: 1, origin: "person", author__username: "alice", boxes: [{ label: XSS, box: [0, 0, 1, 1] }], count: null,
                 verdict: "correct", note: XSS, diff: null, time_spent_seconds: 3, submitted_at: "2026-01-01T00:00:00Z" }],
    events: [{ id: 1, action: "item.rejected", actor__username: "bob", before: null, after: { comment: XSS },
               created_at: "2026-01-01T00:00:00Z" }],
  })),
  login: vi.fn(async () => {
    const { ApiError } = await import("../src/api/errors");
    throw new ApiError(401, "invalid_credentials", "Wrong username or password.");
  }),
}));

afterEach(cleanup);

describe("data renders as text", () => {
  it("shows a note, a comment and an audit value containing markup literally", async () => {
    const { HistoryView } = await import("../src/views/history/HistoryView");
    const { container } = render(<HistoryView project={1} item={5} />);
    await waitFor(() => expect(screen.getByTestId("history-versions")).toBeTruthy());
    expect(container.querySelector("img")).toBeNull();
    expect(container.textContent).toContain(`last comment: ${XSS}`);
    expect(screen.getByTestId("history-versions").textContent).toContain(XSS);
    expect(screen.getByTestId("history-events").textContent).toContain("onerror=alert(1)");
  });
});

describe("login", () => {
  it("shows the server's message on wrong credentials", async () => {
    const { LoginView } = await import("../src/views/LoginView");
    const onSignedIn = vi.fn();
    render(<LoginView onSignedIn={onSignedIn} />);
    fireEvent.input(screen.getByTestId("login-username"), { target: { value: "alice" } });
    fireEvent.input(screen.getByTestId("login-password"), { target: { value: "nope" } });
    fireEvent.submit(screen.getByTestId("login-submit").closest("form")!);
    await waitFor(() => expect(screen.getByTestId("login-error").textContent).toBe("Wrong username or password."));
    expect(onSignedIn).not.toHaveBeenCalled();
  });
});
