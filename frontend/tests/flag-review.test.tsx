// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ClaimedItem, CountFlagContext } from "../src/api/shapes";
import { FlagReview } from "../src/views/flags/FlagReview";

afterEach(cleanup);

const flag: CountFlagContext = {
  id: 7, window_start: "2026-01-01T10:20:00Z", window_end: "2026-01-01T11:35:00Z", observed_count: 61,
  model_count: 34, note: "<b>school group</b> at the door", flagged_by: "maria", camera: { id: 3, name: "door-1" },
  assets: [
    { sha256: "a".repeat(64), kind: "frame", captured_at: "2026-01-01T10:25:00Z" },
    { sha256: "b".repeat(64), kind: "frame", captured_at: "2026-01-01T10:50:00Z" },
    { sha256: "c".repeat(64), kind: "clip", captured_at: "2026-01-01T11:10:00Z" },
  ],
};
const item = { id: 9, reason: "count_flag", lease_token: "t".repeat(32), count_flag: flag } as unknown as ClaimedItem;

describe("reviewing a count flag", () => {
  it("shows the note as text, both counts and the window, and steps through its media with the arrow keys", () => {
    render(<FlagReview item={item} flag={flag} onSubmit={vi.fn()} onSkip={vi.fn()} />);
    expect(screen.getByTestId("flag-review-note").textContent).toBe("<b>school group</b> at the door");
    expect(screen.getByTestId("flag-numbers-observed").textContent).toBe("61");
    expect(screen.getByTestId("flag-numbers-model").textContent).toBe("34");
    expect(screen.getByTestId("flag-review-window").textContent).toContain("(75 min)");
    expect(screen.getByTestId("flag-review-frame").getAttribute("src")).toBe(`/api/v1/assets/${"a".repeat(64)}`);
    fireEvent.keyDown(window, { key: "ArrowRight" });
    expect(screen.getByTestId("flag-review-position").textContent).toContain("Frame 2 of 3");
    fireEvent.keyDown(window, { key: "End" });
    expect(screen.getByTestId("flag-review-clip")).toBeTruthy();
    fireEvent.keyDown(window, { key: "ArrowRight" }); // stays on the last
    expect(screen.getByTestId("flag-review-position").textContent).toContain("Clip 3 of 3");
    fireEvent.keyDown(window, { key: "Home" });
    expect(screen.getByTestId("flag-review-position").textContent).toContain("Frame 1 of 3");
  });

  it("submits the true count with no boxes, and refuses an empty one", async () => {
    const onSubmit = vi.fn(async () => undefined);
    render(<FlagReview item={item} flag={flag} onSubmit={onSubmit} onSkip={vi.fn()} />);
    fireEvent.submit(screen.getByTestId("flag-review-submit").closest("form")!);
    await waitFor(() => expect(screen.getByTestId("error").textContent).toContain("true count"));
    expect(onSubmit).not.toHaveBeenCalled();
    const field = screen.getByTestId("flag-review-count");
    fireEvent.input(field, { target: { value: "58" } });
    fireEvent.keyDown(field, { key: "ArrowRight" }); // typing in the field does not step
    expect(screen.getByTestId("flag-review-position").textContent).toContain("Frame 1 of 3");
    fireEvent.submit(field.closest("form")!);
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit.mock.calls[0]).toMatchObject([{ lease_token: item.lease_token, boxes: [], count: 58, verdict: "correct" }]);
  });
});
