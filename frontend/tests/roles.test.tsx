// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api/errors";
import { PAGE_ROLES, ROLE_WORK, mayOpen, navLinks } from "../src/roles";

const stored = { qa_sample_rate: 0.1, prelabel_threshold: 0.5, consensus_overlap: 1 };
const updateReviewSettings = vi.fn(async (_p: number, body: object) => ({ ...stored, ...body }));
vi.mock("../src/api/endpoints", () => ({
  readReviewSettings: vi.fn(async () => stored),
  updateReviewSettings: (p: number, body: object) => updateReviewSettings(p, body),
  readRetention: vi.fn(async () => ({ policy: {}, audit_floor_days: 365, legal_holds: [], last_run: null,
                                      last_dry_run: null })),
  listDevices: vi.fn(async () => { throw new ApiError(403, "forbidden", "Your role in this project does not allow this."); }),
  listModels: vi.fn(async () => []),
  listSites: vi.fn(async () => []), placeLegalHold: vi.fn(), releaseLegalHold: vi.fn(),
  getTelemetrySummary: vi.fn(async () => ({ now: new Date().toISOString(), hours: 24, bucket_seconds: 3600, t: [], devices: [] })),
}));

afterEach(() => { cleanup(); updateReviewSettings.mockClear(); });

const pages = (role: Parameters<typeof navLinks>[0]) => navLinks(role).map((l) => l.label);

describe("each role sees its own app", () => {
  it("offers each role only the pages of its job", () => {
    expect(pages("manager")).toEqual(["Counts", "Numbers"]);
    expect(pages("operator")).toEqual(["Review disputed clips", "Counts", "Numbers"]);
    expect(pages("annotator")).toEqual(["Queue", "Annotate"]);
    expect(pages("reviewer")).toEqual(["Queue", "QA review", "Counts", "Models", "Drift"]);
    expect(pages("admin")).toEqual(["Queue", "Annotate", "QA review", "Counts", "Numbers", "Models", "Drift",
                                    "Devices", "Routing", "Webhooks", "Members", "Settings"]);
  });

  it("never links a page the role may not open", () => {
    for (const role of ["admin", "annotator", "reviewer", "manager", "operator"] as const) {
      for (const link of [...navLinks(role), ...ROLE_WORK[role]]) expect(mayOpen(link.page, role)).toBe(true);
    }
    expect(mayOpen("devices", "manager")).toBe(false);
    expect(mayOpen("work", "manager")).toBe(false);
    expect(mayOpen("settings", "reviewer")).toBe(false);
    expect(PAGE_ROLES.settings).toEqual(["admin"]);
    expect(mayOpen("devices", undefined)).toBe(true); // not a member: the API's 404 speaks
  });

  it("shows a refused devices page as one message, without the register form", async () => {
    const { DevicesView } = await import("../src/views/devices/DevicesView");
    render(<DevicesView project={1} />);
    await screen.findByTestId("not-for-role");
    expect(screen.queryByRole("form")).toBeNull();
    expect(document.querySelector("form")).toBeNull();
  });
});

describe("project settings", () => {
  it("sends only the changed settings and shows the saved values", async () => {
    const { SettingsView } = await import("../src/views/settings/SettingsView");
    render(<SettingsView project={1} />);
    const rate = await screen.findByTestId("settings-qa_sample_rate") as HTMLInputElement;
    expect(rate.value).toBe("0.1");
    fireEvent.input(rate, { target: { value: "0.25" } });
    fireEvent.input(screen.getByTestId("settings-prelabel_threshold"), { target: { value: "0,6" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(screen.getByTestId("settings-saved").textContent).toBe("Saved."));
    expect(updateReviewSettings).toHaveBeenCalledWith(1, { qa_sample_rate: 0.25, prelabel_threshold: 0.6 });
  });

  it("refuses a rate outside 0..1 beside its field and sends nothing", async () => {
    const { SettingsView } = await import("../src/views/settings/SettingsView");
    render(<SettingsView project={1} />);
    fireEvent.input(await screen.findByTestId("settings-qa_sample_rate"), { target: { value: "1.5" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    expect((await screen.findByTestId("settings-qa_sample_rate-error")).textContent).toContain("from 0 to 1");
    expect(updateReviewSettings).not.toHaveBeenCalled();
  });

  it("shows the server's refusal beside the field it names", async () => {
    updateReviewSettings.mockRejectedValueOnce(new ApiError(400, "invalid", "The request is not valid.",
      { consensus_overlap: ["Ensure this value is less than or equal to 10."] }));
    const { SettingsView } = await import("../src/views/settings/SettingsView");
    render(<SettingsView project={1} />);
    fireEvent.input(await screen.findByTestId("settings-consensus_overlap"), { target: { value: "3" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    expect((await screen.findByTestId("settings-consensus_overlap-error")).textContent)
      .toBe("Ensure this value is less than or equal to 10.");
  });
});
