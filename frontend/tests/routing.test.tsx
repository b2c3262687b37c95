// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api/errors";
import type { PolicyOutcome, PolicyPreview, RoutingPolicy } from "../src/api/endpoints";
import { parseRoute } from "../src/router";
import { parseDocument, policyErrors, unionKeys } from "../src/views/routing/RoutingView";

const document = { weights: { least_confidence: 0.3 }, min_priority: 0.3, audit_sample_rate: 0.02 };
let policy: RoutingPolicy = {
  version: 2, document, schema: {},
  history: [{ version: 2, created_at: "2026-12-01T10:00:00Z", created_by__username: "dana" },
            { version: 1, created_at: "2026-11-30T10:00:00Z", created_by__username: null }],
};
const outcome = (queued: number, extra: Partial<PolicyOutcome> = {}): PolicyOutcome => ({
  events: 10, queued, queued_by_reason: { low_confidence: queued }, queued_by_site: { "Main St": queued },
  priority_histogram: [1, 1, 1, 2, 2, 1, 1, 1, 0, 0], exempt_from_caps_share: 0, subject_to_caps: queued, ...extra });
const preview: PolicyPreview = {
  limit: 1000, current_version: 2, caps_simulated: false, caps: { current: {}, proposed: {} },
  current: outcome(6), proposed: outcome(3, { queued_by_reason: { low_confidence: 2, disputed: 1 } }),
  changed: 3, newly_queued: 0, no_longer_queued: 3,
  examples: [{ prediction: 41, camera: "door-1", site: "Main St", queued_before: true, queued_after: false,
               reason_before: "low_confidence", reason_after: "", priority_before: 0.41, priority_after: 0.41 }],
};

const api = {
  readRoutingPolicy: vi.fn(async () => policy),
  previewRoutingPolicy: vi.fn<(p: number, d: unknown) => Promise<PolicyPreview>>(async () => preview),
  saveRoutingPolicy: vi.fn(async (_p: number, d: unknown): Promise<RoutingPolicy> => ({ ...policy, version: 3, document: d })),
  role: "admin",
};
vi.mock("../src/api/endpoints", () => ({
  readRoutingPolicy: () => api.readRoutingPolicy(),
  previewRoutingPolicy: (p: number, d: unknown) => api.previewRoutingPolicy(p, d),
  saveRoutingPolicy: (p: number, d: unknown) => api.saveRoutingPolicy(p, d),
  readProject: vi.fn(async () => ({ id: 1, role: api.role, label_classes: ["person"] })),
}));

beforeEach(() => { api.role = "admin"; vi.clearAllMocks(); });
afterEach(cleanup);

async function renderPage() {
  const { RoutingView } = await import("../src/views/routing/RoutingView");
  render(<RoutingView project={1} />);
  await waitFor(() => expect(screen.getByTestId("routing-version").textContent).toBe("In force: version 2."));
}

const edit = (text: string) => fireEvent.input(screen.getByTestId("routing-document"), { target: { value: text } });

describe("routing page", () => {
  it("routes #/projects/{id}/routing and reads errors and documents", () => {
    expect(parseRoute("#/projects/4/routing")).toEqual({ name: "routing", project: 4 });
    expect(parseDocument('{"a": 1}')).toEqual({ document: { a: 1 } });
    const bad = parseDocument("{oops");
    expect("errors" in bad && bad.errors[0]!.path).toBe("/");
    const refusal = new ApiError(422, "invalid_policy", "The routing policy is not valid.",
                                 { errors: [{ path: "/min_priority", message: "7 is greater than the maximum of 1" }] });
    expect(policyErrors(refusal)).toEqual([{ path: "/min_priority", message: "7 is greater than the maximum of 1" }]);
    expect(policyErrors(new ApiError(403, "forbidden", "no"))).toBeNull();
    expect(unionKeys({ b: 1 }, { a: 2, b: 3 })).toEqual(["a", "b"]);
  });

  it("shows the version, the history and the document in the editor", async () => {
    await renderPage();
    expect(screen.getByTestId("routing-history").textContent).toContain("Past versions (2)");
    const editor = screen.getByLabelText("Policy document (JSON)") as HTMLTextAreaElement;
    expect(JSON.parse(editor.value)).toEqual(document);
  });

  it("previews the edited document beside the policy in force", async () => {
    await renderPage();
    edit(JSON.stringify({ ...document, min_priority: 0.6 }));
    fireEvent.click(screen.getByTestId("routing-preview-run"));
    await waitFor(() => expect(screen.getByTestId("routing-preview")).toBeTruthy());
    expect(api.previewRoutingPolicy).toHaveBeenCalledWith(1, { ...document, min_priority: 0.6 });
    expect(screen.getByTestId("routing-current-queued").textContent).toBe("6");
    expect(screen.getByTestId("routing-proposed-queued").textContent).toBe("3");
    expect(screen.getByTestId("routing-by-reason").textContent).toContain("disputed01"); // absent → 0, then 1
    expect(screen.getByTestId("routing-histogram").querySelectorAll("tbody tr")).toHaveLength(10);
    expect(screen.getByTestId("routing-changed").textContent).toBe("3 events change: 0 newly queued, 3 no longer queued.");
    expect(screen.getByTestId("routing-examples").textContent).toContain("#41");
    expect(api.saveRoutingPolicy).not.toHaveBeenCalled();
  });

  it("Ctrl+Enter in the editor previews", async () => {
    await renderPage();
    fireEvent.keyDown(screen.getByTestId("routing-document"), { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(api.previewRoutingPolicy).toHaveBeenCalledTimes(1));
  });

  it("lists every validation error with its path and keeps what was typed", async () => {
    api.previewRoutingPolicy.mockRejectedValueOnce(new ApiError(422, "invalid_policy", "The routing policy is not valid.", {
      errors: [{ path: "/", message: "'audit_sample_rate' is a required property" },
               { path: "/min_priority", message: "7 is greater than the maximum of 1" }] }));
    await renderPage();
    const typed = '{"weights": {}, "min_priority": 7}';
    edit(typed);
    fireEvent.click(screen.getByTestId("routing-preview-run"));
    await waitFor(() => expect(screen.getByTestId("routing-errors")).toBeTruthy());
    const items = [...screen.getByTestId("routing-errors").querySelectorAll("li")].map((li) => li.textContent);
    expect(items).toEqual(["/: 'audit_sample_rate' is a required property", "/min_priority: 7 is greater than the maximum of 1"]);
    const editor = screen.getByTestId("routing-document") as HTMLTextAreaElement;
    expect(editor.value).toBe(typed);
    expect(editor.getAttribute("aria-describedby")).toContain("routing-errors");
  });

  it("refuses malformed JSON without calling the server", async () => {
    await renderPage();
    edit("{ not json");
    fireEvent.click(screen.getByTestId("routing-save"));
    await waitFor(() => expect(screen.getByTestId("routing-errors").textContent).toContain("Not valid JSON"));
    expect(api.saveRoutingPolicy).not.toHaveBeenCalled();
    expect((screen.getByTestId("routing-document") as HTMLTextAreaElement).value).toBe("{ not json");
  });

  it("saves as a new version and confirms its number", async () => {
    await renderPage();
    edit(JSON.stringify({ ...document, min_priority: 0.6 }));
    policy = { ...policy, version: 3 };
    fireEvent.click(screen.getByTestId("routing-save"));
    await waitFor(() => expect(screen.getByTestId("routing-saved").textContent).toBe("Saved as version 3."));
    expect(api.saveRoutingPolicy).toHaveBeenCalledWith(1, { ...document, min_priority: 0.6 });
    await waitFor(() => expect(screen.getByTestId("routing-version").textContent).toBe("In force: version 3."));
    policy = { ...policy, version: 2 };
  });

  it("shows a member who is not an admin the document read-only", async () => {
    api.role = "reviewer";
    await renderPage();
    await waitFor(() => expect(screen.getByTestId("routing-readonly")).toBeTruthy());
    expect(screen.queryByTestId("routing-document")).toBeNull();
  });
});
