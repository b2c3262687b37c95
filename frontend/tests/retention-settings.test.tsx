// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Retention, RetentionChange } from "../src/api/endpoints";
import { ApiError } from "../src/api/errors";
import { retentionChangesFrom, retentionDraftOf } from "../src/views/settings/RetentionSettings";

const stored = (policy: Retention["policy"] = {}, fields: Partial<Retention> = {}): Retention => ({
  policy: { unreviewed_media_days: null, reviewed_media_days: null, prediction_days: null, audit_days: null,
            ...policy },
  audit_floor_days: 365, legal_holds: [], last_run: null, last_dry_run: null, ...fields,
});

const api = {
  readRetention: vi.fn<(p: number) => Promise<Retention>>(async () => stored()),
  updateRetention: vi.fn(async (_p: number, changes: RetentionChange): Promise<Retention> => stored(changes)),
  dryRunRetention: vi.fn(async () => ({ id: 9, dry_run: true, started_at: "2026-12-03T10:00:00Z",
                                        finished_at: "2026-12-03T10:00:01Z",
                                        report: { media_deleted: [{ sha256: "b", bytes: 1_000_000 },
                                                                  { sha256: "c", bytes: 500_000 }],
                                                  bytes_freed: 1_500_000, predictions_deleted: 12,
                                                  audit_events_deleted: 3 } })),
  listSites: vi.fn(async () => [{ id: 1, name: "Main St", kind: "store" }, { id: 2, name: "Harbour", kind: "store" }]),
  placeLegalHold: vi.fn<(p: number, site: number, reason: string) => Promise<object>>(async () => ({})),
  releaseLegalHold: vi.fn<(p: number, site: number) => Promise<void>>(async () => undefined),
};
vi.mock("../src/api/endpoints", () => ({
  readRetention: (p: number) => api.readRetention(p),
  updateRetention: (p: number, c: RetentionChange) => api.updateRetention(p, c),
  dryRunRetention: () => api.dryRunRetention(),
  listSites: () => api.listSites(),
  placeLegalHold: (p: number, site: number, reason: string) => api.placeLegalHold(p, site, reason),
  releaseLegalHold: (p: number, site: number) => api.releaseLegalHold(p, site),
}));

const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;
const type = (testId: string, value: string) => fireEvent.input(input(testId), { target: { value } });

async function renderRetention() {
  const { RetentionSettings } = await import("../src/views/settings/RetentionSettings");
  render(<RetentionSettings project={1} />);
  return screen.findByTestId("retention-form");
}

beforeEach(() => {
  api.readRetention.mockReset().mockImplementation(async () => stored());
  api.updateRetention.mockClear();
});
afterEach(() => { cleanup(); });

describe("retention changes", () => {
  it("sends only what changed; empty means keep forever (null)", () => {
    const current = stored({ unreviewed_media_days: 30, audit_days: 400 });
    const draft = { ...retentionDraftOf(current), unreviewed_media_days: "", prediction_days: "90" };
    expect(retentionChangesFrom(current, draft)).toEqual({
      changes: { unreviewed_media_days: null, prediction_days: 90 }, errors: {} });
  });

  it("refuses what is not a whole number of days, and audit retention under the floor", () => {
    const draft = { ...retentionDraftOf(stored()), reviewed_media_days: "-3", prediction_days: "1.5",
                    audit_days: "30" };
    const { changes, errors } = retentionChangesFrom(stored(), draft);
    expect(changes).toEqual({});
    expect(Object.keys(errors).sort()).toEqual(["audit_days", "prediction_days", "reviewed_media_days"]);
    expect(errors.audit_days).toContain("from 365");
  });
});

describe("the retention section", () => {
  it("shows the stored limits and the last prune, and saves a change", async () => {
    api.readRetention.mockImplementation(async () => stored({ unreviewed_media_days: 30 }, {
      last_run: { id: 1, dry_run: false, started_at: "2026-12-01T03:00:00Z", finished_at: "2026-12-01T03:01:00Z",
                  report: { media_deleted: [{ sha256: "a", bytes: 2_500_000 }], bytes_freed: 2_500_000,
                            predictions_deleted: 7, audit_events_deleted: 0 } },
      legal_holds: [{ site: 2, site_name: "Harbour", reason: "case 42", held_by: "dana",
                      held_at: "2026-11-30T10:00:00Z" }],
    }));
    await renderRetention();
    expect(input("retention-unreviewed_media_days").value).toBe("30");
    expect(input("retention-audit_days").value).toBe("");
    expect(screen.getByTestId("retention-last-run").textContent).toContain("deleted 1 media (2.5 MB), 7 predictions");
    await waitFor(() => expect(screen.getByTestId("retention-held-2").textContent).toContain("held by dana"));
    expect(screen.getByTestId("retention-held-2").textContent).toContain("case 42");
    type("retention-reviewed_media_days", "180");
    fireEvent.click(screen.getByTestId("retention-save"));
    await waitFor(() => expect(screen.getByTestId("retention-saved").textContent).toBe("Saved."));
    expect(api.updateRetention).toHaveBeenCalledWith(1, { reviewed_media_days: 180 });
  });

  it("asks why before placing a legal hold, then places it and reads the holds again", async () => {
    await renderRetention();
    await waitFor(() => screen.getByTestId("retention-hold-1"));
    fireEvent.click(screen.getByTestId("retention-hold-1"));
    expect(screen.getByTestId("retention-hold-error-1").textContent).toMatch(/Say why/);
    expect(api.placeLegalHold).not.toHaveBeenCalled();
    type("retention-hold-reason-1", "case 7, counsel");
    fireEvent.click(screen.getByTestId("retention-hold-1"));
    await waitFor(() => expect(api.placeLegalHold).toHaveBeenCalledWith(1, 1, "case 7, counsel"));
    await waitFor(() => expect(api.readRetention).toHaveBeenCalledTimes(2));
  });

  it("shows the server's refusal beside its field and keeps what was typed", async () => {
    api.updateRetention.mockRejectedValueOnce(new ApiError(400, "invalid", "Invalid input.",
                                                           { audit_days: ["Audit events are kept at least 365 days."] }));
    await renderRetention();
    type("retention-audit_days", "500");
    fireEvent.click(screen.getByTestId("retention-save"));
    await waitFor(() => expect(screen.getByTestId("retention-audit_days-error").textContent).toContain("365"));
    expect(input("retention-audit_days").value).toBe("500");
    expect(document.activeElement).toBe(input("retention-audit_days"));
  });

  it("previews the next prune with a dry run and deletes nothing", async () => {
    await renderRetention();
    expect(screen.queryByTestId("retention-dry-run-report")).toBeNull();
    fireEvent.click(screen.getByTestId("retention-dry-run"));
    await waitFor(() => expect(screen.getByTestId("retention-dry-run-report").textContent)
      .toContain("would delete 2 media (1.5 MB), 12 predictions, 3 audit events, 0 telemetry samples"));
    expect(api.dryRunRetention).toHaveBeenCalledTimes(1);
    expect(api.updateRetention).not.toHaveBeenCalled();
  });
});

describe("storage sizes", () => {
  it("reads kB for a few frames and MB above", async () => {
    const { storageSize } = await import("../src/views/settings/RetentionSettings");
    expect(storageSize(23_456)).toBe("23.5 kB");
    expect(storageSize(1_500_000)).toBe("1.5 MB");
  });
});
