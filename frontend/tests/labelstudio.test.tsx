// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type {
  LabelStudioLinkWrite, LabelStudioPush, LabelStudioPushResult, LabelStudioStatus, LabelStudioSyncResult,
} from "../src/api/endpoints";
import { ApiError } from "../src/api/errors";
import { mayOpen } from "../src/roles";
import { href, parseRoute } from "../src/router";
import { linkBody } from "../src/views/labelstudio/LinkForm";
import { pushBody } from "../src/views/labelstudio/PushForm";
import { unlinkQuestion } from "../src/views/labelstudio/LabelStudioView";
import { describePush, describeSync, fieldErrors } from "../src/views/labelstudio/words";

const linked = (fields: Partial<LabelStudioStatus> = {}): LabelStudioStatus => ({
  linked: true, url: "http://ls.example.com", ls_project_id: 7, ls_project_url: "http://ls.example.com/projects/7/data",
  loupe_url: "https://loupe.example.com", auto_push: false, push_filter: {}, webhooks_enabled: true,
  webhook_registered: true, tasks: { pushed: 200, pending: 197, unconfirmed: 0, annotated: 3, deleted: 0 },
  versions: { webhook: 3, poll: 0 }, last_sync_at: "2026-12-03T10:00:00Z", poll_cursor: null, last_error: null,
  last_error_at: null, failures: 0, next_attempt_at: null, ...fields,
});

const api = {
  readLabelStudioLink: vi.fn<() => Promise<LabelStudioStatus>>(async () => ({ linked: false })),
  saveLabelStudioLink: vi.fn<(p: number, b: LabelStudioLinkWrite) => Promise<LabelStudioStatus>>(async () => linked()),
  unlinkLabelStudio: vi.fn<(p: number) => Promise<void>>(async () => undefined),
  pushToLabelStudio: vi.fn<(p: number, b: LabelStudioPush) => Promise<LabelStudioPushResult>>(
    async () => ({ pushed: 200, already_pushed: 0, skipped_clips: 0 })),
  syncLabelStudio: vi.fn<(p: number) => Promise<LabelStudioSyncResult>>(
    async () => ({ confirmed: 0, received: 3, renewed: 0, pushed: 0 })),
};
vi.mock("../src/api/endpoints", () => ({
  readLabelStudioLink: () => api.readLabelStudioLink(),
  saveLabelStudioLink: (p: number, b: LabelStudioLinkWrite) => api.saveLabelStudioLink(p, b),
  unlinkLabelStudio: (p: number) => api.unlinkLabelStudio(p),
  pushToLabelStudio: (p: number, b: LabelStudioPush) => api.pushToLabelStudio(p, b),
  syncLabelStudio: (p: number) => api.syncLabelStudio(p),
}));

async function renderView() {
  const { LabelStudioView } = await import("../src/views/labelstudio/LabelStudioView");
  return render(<LabelStudioView project={4} />);
}

const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;
const type = (testId: string, value: string) => fireEvent.input(input(testId), { target: { value } });
const text = (testId: string) => screen.getByTestId(testId).textContent ?? "";

function choose(testId: string, values: string[]) {
  const select = screen.getByTestId(testId) as HTMLSelectElement;
  for (const option of Array.from(select.options)) option.selected = values.includes(option.value);
  fireEvent.change(select);
}

beforeEach(() => {
  for (const fn of Object.values(api)) fn.mockClear();
  api.readLabelStudioLink.mockImplementation(async () => ({ linked: false }));
});
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("the Label Studio page's words", () => {
  it("is an admin's page at #/projects/N/labelstudio", () => {
    expect(parseRoute("#/projects/4/labelstudio")).toEqual({ name: "labelstudio", project: 4 });
    expect(href.labelstudio(4)).toBe("#/projects/4/labelstudio");
    expect(mayOpen("labelstudio", "admin")).toBe(true);
    expect(mayOpen("labelstudio", "reviewer")).toBe(false);
  });

  it("says what a push did in one sentence", () => {
    expect(describePush({ pushed: 200, already_pushed: 0, skipped_clips: 0 }))
      .toBe("Pushed 200 items as Label Studio tasks; 0 already there.");
    expect(describePush({ pushed: 1, already_pushed: 3, skipped_clips: 2 }))
      .toBe("Pushed 1 item as a Label Studio task; 3 already there. 2 clips were left out: Label Studio gets still "
            + "images only.");
    expect(describePush({ pushed: 0, already_pushed: 0, skipped_clips: 0 })).toContain("No pending still image matched.");
  });

  it("says what a sync brought", () => {
    expect(describeSync({ confirmed: 0, received: 3, renewed: 0, pushed: 0 }))
      .toBe("Synced with Label Studio: 3 new versions received.");
    expect(describeSync({ confirmed: 2, received: 1, renewed: 5, pushed: 1 }))
      .toBe("Synced with Label Studio: 1 new version received, 2 pushes confirmed, 5 image links renewed, "
            + "1 item pushed automatically.");
    expect(describeSync({ received: 0, returned: 2 }))
      .toBe("Synced with Label Studio: 0 new versions received, 2 items back in the queue (deleted in Label Studio).");
    expect(describeSync({ skipped: "backing off" })).toBe("Not synced: backing off.");
  });

  it("builds the link body, leaving out what was not given, and checks the fields first", () => {
    const values = { url: " http://ls.example.com ", token: "tok", lsProjectId: "", loupeUrl: "", webhooks: true,
                     autoPush: false, reasons: [], minPriority: "0.5" };
    expect(linkBody(values)).toEqual({ body: { url: "http://ls.example.com", token: "tok", auto_push: false,
                                               webhooks_enabled: true } });
    expect(linkBody({ ...values, lsProjectId: "12", loupeUrl: "https://loupe.example.com", autoPush: true,
                      reasons: ["disputed"] })).toEqual({ body: {
      url: "http://ls.example.com", token: "tok", ls_project_id: 12, loupe_url: "https://loupe.example.com",
      auto_push: true, push_filter: { reasons: ["disputed"], min_priority: 0.5 }, webhooks_enabled: true } });
    const refused = linkBody({ ...values, url: "", token: " ", lsProjectId: "x", autoPush: true, minPriority: "2" });
    expect(Object.keys("errors" in refused ? refused.errors : {}).sort())
      .toEqual(["ls_project_id", "push_filter", "token", "url"]);
  });

  it("checks the push form before sending", () => {
    expect(pushBody([], "", "1000")).toEqual({ limit: 1000 });
    expect(pushBody(["low_confidence"], "0.3", "50")).toEqual({ limit: 50, reasons: ["low_confidence"], min_priority: 0.3 });
    expect(pushBody([], "", "0")).toContain("from 1 to 20,000");
    expect(pushBody([], "1.5", "10")).toContain("from 0 to 1");
  });

  it("puts Label Studio's refusals beside the field they concern", () => {
    expect(fieldErrors(new ApiError(400, "labelstudio_token_refused", "Label Studio refused the token.")).token)
      .toContain("Label Studio refused the token.");
    expect(fieldErrors(new ApiError(400, "labelstudio_project_not_found", "Label Studio has no such project."))
      .ls_project_id).toContain("Label Studio has no such project.");
    expect(fieldErrors(new ApiError(400, "url_not_allowed", "no", { host: "ls.internal" })).url)
      .toContain("Loupe may not send to ls.internal");
    expect(fieldErrors(new ApiError(400, "invalid", "Bad.", { url: ["Enter a valid URL."] })).url).toBe("Enter a valid URL.");
    expect(fieldErrors(new ApiError(502, "labelstudio_unavailable", "Label Studio could not be reached: timed out",
                                    {})).form).toBe("Label Studio could not be reached: timed out");
    expect(fieldErrors(new ApiError(409, "already_linked", "unlink it first")).form).toBe("unlink it first");
  });

  it("asks before unlinking, saying how many items come back to the queue", () => {
    expect(unlinkQuestion(linked())).toContain("The 197 items still in Label Studio come back to Loupe's queue");
    expect(unlinkQuestion(linked({ tasks: { pushed: 1, pending: 0, unconfirmed: 0, annotated: 1, deleted: 0 } })))
      .toContain("No item is waiting in Label Studio.");
  });
});

describe("the Label Studio page", () => {
  it("links: sends the form, never shows the token back, then shows the status", async () => {
    await renderView();
    await screen.findByTestId("ls-link-form");
    expect(input("ls-token").type).toBe("password");
    expect(input("ls-loupe-url").placeholder).toBe(window.location.origin);
    type("ls-url", "http://ls.example.com");
    type("ls-token", "secret-token");
    fireEvent.click(input("ls-webhooks"));
    fireEvent.click(input("ls-auto-push"));
    choose("ls-auto-reasons", ["disputed", "ood"]);
    type("ls-auto-min-priority", "0.4");
    api.readLabelStudioLink.mockImplementation(async () => linked());
    fireEvent.submit(screen.getByTestId("ls-link-form"));

    await screen.findByTestId("ls-status");
    expect(api.saveLabelStudioLink).toHaveBeenCalledWith(4, {
      url: "http://ls.example.com", token: "secret-token", auto_push: true, webhooks_enabled: false,
      push_filter: { reasons: ["disputed", "ood"], min_priority: 0.4 } });
    expect(text("ls-notice")).toContain("Linked to Label Studio project 7");
    const out = screen.getByTestId("ls-project-link") as HTMLAnchorElement;
    expect(out.href).toBe("http://ls.example.com/projects/7/data");
    expect(out.target).toBe("_blank");
    expect(text("ls-tasks-pushed")).toBe("200");
    expect(text("ls-tasks-pending")).toBe("197");
    expect(text("ls-tasks-annotated")).toBe("3");
    expect(text("ls-versions-webhook")).toBe("3");
    expect(document.body.textContent).not.toContain("secret-token");
    expect(screen.queryByTestId("ls-failing")).toBeNull();
  });

  it("shows a refused token beside the field and keeps what was typed", async () => {
    api.saveLabelStudioLink.mockRejectedValueOnce(
      new ApiError(400, "labelstudio_token_refused", "Label Studio refused the token.", { status: 401 }));
    await renderView();
    await screen.findByTestId("ls-link-form");
    type("ls-url", "http://ls.example.com");
    type("ls-token", "wrong");
    fireEvent.submit(screen.getByTestId("ls-link-form"));
    expect((await screen.findByTestId("ls-token-error")).textContent).toContain("Label Studio refused the token.");
    expect(document.activeElement).toBe(input("ls-token"));
    expect(input("ls-token").getAttribute("aria-invalid")).toBe("true");
    expect(input("ls-url").value).toBe("http://ls.example.com");
    expect(screen.queryByTestId("ls-status")).toBeNull();
  });

  it("does not send a form with an empty address or token", async () => {
    await renderView();
    fireEvent.submit(await screen.findByTestId("ls-link-form"));
    expect(await screen.findByTestId("ls-url-error")).toBeTruthy();
    expect(screen.getByTestId("ls-token-error")).toBeTruthy();
    expect(api.saveLabelStudioLink).not.toHaveBeenCalled();
  });

  it("pushes with the chosen reasons and says what it did", async () => {
    api.readLabelStudioLink.mockImplementation(async () => linked());
    await renderView();
    await screen.findByTestId("ls-push-form");
    choose("ls-push-reasons", ["low_confidence"]);
    type("ls-push-min-priority", "0.2");
    type("ls-push-limit", "300");
    fireEvent.submit(screen.getByTestId("ls-push-form"));
    expect((await screen.findByTestId("ls-push-result")).textContent)
      .toBe("Pushed 200 items as Label Studio tasks; 0 already there.");
    expect(api.pushToLabelStudio).toHaveBeenCalledWith(4, { limit: 300, reasons: ["low_confidence"], min_priority: 0.2 });
    await waitFor(() => expect(api.readLabelStudioLink).toHaveBeenCalledTimes(2)); // the numbers follow
  });

  it("syncs now and shows what came back, or Label Studio's failure", async () => {
    api.readLabelStudioLink.mockImplementation(async () => linked());
    await renderView();
    fireEvent.click(await screen.findByTestId("ls-sync"));
    expect((await screen.findByTestId("ls-sync-result")).textContent).toBe("Synced with Label Studio: 3 new versions received.");

    api.syncLabelStudio.mockRejectedValueOnce(new ApiError(502, "labelstudio_unavailable", "Label Studio answered 500."));
    api.readLabelStudioLink.mockImplementation(async () => linked({
      failures: 2, last_error: "Label Studio answered 500.", last_error_at: "2026-12-03T10:05:00Z",
      next_attempt_at: "2026-12-03T10:07:00Z" }));
    fireEvent.click(screen.getByTestId("ls-sync"));
    expect((await screen.findByTestId("ls-sync-error")).textContent).toBe("Label Studio answered 500.");
    expect(screen.queryByTestId("ls-sync-result")).toBeNull();
    const failing = await screen.findByTestId("ls-failing");
    expect(failing.textContent).toContain("failed 2 times in a row");
    expect(failing.textContent).toContain("Label Studio answered 500.");
    expect(failing.textContent).toContain(new Date("2026-12-03T10:07:00Z").toLocaleString());
  });

  it("unlinks only after a confirmation", async () => {
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    api.readLabelStudioLink.mockImplementation(async () => linked());
    await renderView();
    fireEvent.click(await screen.findByTestId("ls-unlink"));
    expect(confirm.mock.calls[0]).toEqual([expect.stringContaining("come back to Loupe's queue")]);
    expect(api.unlinkLabelStudio).not.toHaveBeenCalled();

    confirm.mockReturnValue(true);
    api.readLabelStudioLink.mockImplementation(async () => ({ linked: false }));
    fireEvent.click(screen.getByTestId("ls-unlink"));
    await screen.findByTestId("ls-link-form");
    expect(api.unlinkLabelStudio).toHaveBeenCalledWith(4);
    expect(text("ls-notice")).toContain("back in Loupe's queue");
  });

  it("shows a server error's message instead of a blank page", async () => {
    api.readLabelStudioLink.mockRejectedValueOnce(new ApiError(500, "server_error", "The server answered 500."));
    await renderView();
    expect((await screen.findByTestId("ls-error")).textContent).toBe("The server answered 500.");
    cleanup();
    api.readLabelStudioLink.mockRejectedValueOnce(new ApiError(403, "permission_denied", "No."));
    await renderView();
    expect((await screen.findByTestId("ls-forbidden")).textContent).toContain("Only the project's admins");
  });
});
