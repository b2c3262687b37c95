// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api/errors";
import type { WebhookDeliveryRow, WebhookRow } from "../src/api/endpoints";
import { parseRoute } from "../src/router";
import { generateSecret } from "../src/ui/SecretInput";
import { WEBHOOK_EVENTS, fieldErrors } from "../src/views/webhooks/fields";
import { FakeSocket } from "./fakeSocket";

const hook = (id: number, fields: Partial<WebhookRow> = {}): WebhookRow => ({
  id, project: 1, url: `https://hooks.example.com/${id}`, events: ["item.accepted"], active: true, created_by: "dana",
  created_at: "2026-12-01T10:00:00Z", last_delivery: null, ...fields,
});

const delivery = (id: number, fields: Partial<WebhookDeliveryRow> = {}): WebhookDeliveryRow => ({
  id, event: "item.accepted", event_id: `00000000-0000-0000-0000-${String(id).padStart(12, "0")}`, payload: {},
  status: "delivered", attempts: 1, next_attempt_at: "2026-12-01T10:00:00Z", last_status_code: 200, last_error: "",
  created_at: "2026-12-01T10:00:00Z", delivered_at: "2026-12-01T10:00:01Z", ...fields,
});

const api = {
  listWebhooks: vi.fn<() => Promise<WebhookRow[]>>(async () => []),
  createWebhook: vi.fn(async (_p: number, body: Record<string, unknown>): Promise<WebhookRow> => hook(9, body)),
  updateWebhook: vi.fn(async (id: number, body: Record<string, unknown>): Promise<WebhookRow> => hook(id, body)),
  deleteWebhook: vi.fn<(id: number) => Promise<void>>(async () => undefined),
  testWebhook: vi.fn<(id: number) => Promise<WebhookDeliveryRow>>(
    async () => delivery(50, { event: "ping", status: "pending" })),
  listDeliveries: vi.fn<(id: number, q?: { limit?: number; before?: number }) => Promise<WebhookDeliveryRow[]>>(
    async () => []),
};
vi.mock("../src/api/endpoints", () => ({
  listWebhooks: () => api.listWebhooks(),
  createWebhook: (p: number, b: Record<string, unknown>) => api.createWebhook(p, b),
  updateWebhook: (id: number, b: Record<string, unknown>) => api.updateWebhook(id, b),
  deleteWebhook: (id: number) => api.deleteWebhook(id),
  testWebhook: (id: number) => api.testWebhook(id),
  listDeliveries: (id: number, q?: { limit?: number; before?: number }) => api.listDeliveries(id, q),
}));

const notAllowed = new ApiError(400, "url_not_allowed", "This host is not in LOUPE_OUTBOUND_ALLOWED_HOSTS.",
                                { host: "evil.example.net" });

async function renderView() {
  vi.stubGlobal("WebSocket", FakeSocket);
  const { ProjectLive } = await import("../src/realtime/ProjectLive");
  const { WebhooksView } = await import("../src/views/webhooks/WebhooksView");
  return render(<ProjectLive project={1}><WebhooksView project={1} /></ProjectLive>);
}

const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;

beforeEach(() => {
  for (const fn of Object.values(api)) fn.mockClear();
  api.listWebhooks.mockImplementation(async () => []);
  api.listDeliveries.mockImplementation(async () => []);
});
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("webhooks page", () => {
  it("lists each webhook with its events, state and last delivery", async () => {
    api.listWebhooks.mockImplementation(async () => [
      hook(1, { events: ["item.accepted", "model.promoted"],
                last_delivery: { id: 7, event: "ping", status: "failed", last_status_code: 503,
                                 created_at: "2026-12-01T10:00:00Z" } }),
      hook(2, { active: false }),
    ]);
    await renderView();
    await waitFor(() => expect(screen.getByTestId("webhook-list")).toBeTruthy());
    const first = screen.getByTestId("webhook-1").textContent ?? "";
    expect(first).toContain("https://hooks.example.com/1");
    expect(first).toContain("Item accepted, Model promoted");
    expect(screen.getByTestId("webhook-last-1").textContent).toContain("failed · 503");
    expect(screen.getByTestId("webhook-2").textContent).toContain("none yet");
    expect(screen.getByTestId("webhook-active-2").textContent).toBe("paused");
  });

  it("shows a refused URL beside the field in plain words and keeps everything typed", async () => {
    api.createWebhook.mockRejectedValueOnce(notAllowed);
    await renderView();
    fireEvent.input(await screen.findByTestId("webhook-new-url"), { target: { value: "https://evil.example.net/x" } });
    fireEvent.click(input("webhook-new-event-model.promoted"));
    fireEvent.click(input("webhook-new-event-item.accepted"));
    fireEvent.click(screen.getByTestId("webhook-new-secret-generate"));
    const secret = input("webhook-new-secret").value;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(input("webhook-new-secret").type).toBe("text"); // a generated secret is shown, to be copied
    fireEvent.submit(screen.getByTestId("webhook-new-form"));

    const error = await screen.findByTestId("webhook-new-url-error");
    expect(error.textContent).toContain("Loupe may not send to evil.example.net");
    expect(error.textContent).toContain("LOUPE_OUTBOUND_ALLOWED_HOSTS");
    const url = input("webhook-new-url");
    expect(url.getAttribute("aria-invalid")).toBe("true");
    expect(url.getAttribute("aria-describedby")).toContain("webhook-new-url-error");
    expect(document.activeElement).toBe(url);
    expect(url.value).toBe("https://evil.example.net/x");
    expect(input("webhook-new-secret").value).toBe(secret);
    expect(input("webhook-new-event-model.promoted").checked).toBe(true);

    fireEvent.input(url, { target: { value: "https://hooks.example.com/loupe" } });
    fireEvent.submit(screen.getByTestId("webhook-new-form"));
    await waitFor(() => expect(api.createWebhook).toHaveBeenCalledTimes(2));
    expect(api.createWebhook).toHaveBeenLastCalledWith(1, {
      url: "https://hooks.example.com/loupe", events: ["item.accepted", "model.promoted"], secret, active: true });
    await waitFor(() => expect(input("webhook-new-url").value).toBe(""));
    expect(screen.queryByTestId("webhook-new-url-error")).toBeNull();
    expect(screen.getByTestId("webhooks-notice").textContent).toContain("not shown again");
  });

  it("puts a short secret's and a missing event's refusals beside their fields", async () => {
    api.createWebhook.mockRejectedValueOnce(new ApiError(400, "secret_too_short", "The secret must be at least 32."));
    await renderView();
    fireEvent.input(await screen.findByTestId("webhook-new-secret"), { target: { value: "short" } });
    fireEvent.submit(screen.getByTestId("webhook-new-form"));
    expect((await screen.findByTestId("webhook-new-secret-error")).textContent).toContain("at least 32 characters");
    expect(document.activeElement).toBe(input("webhook-new-secret"));
    expect(input("webhook-new-secret").value).toBe("short");

    api.createWebhook.mockRejectedValueOnce(new ApiError(400, "no_events", "Subscribe to at least one event."));
    fireEvent.submit(screen.getByTestId("webhook-new-form"));
    expect((await screen.findByTestId("webhook-new-events-error")).textContent).toBe("Choose at least one event to send.");
    expect(screen.queryByTestId("webhook-new-secret-error")).toBeNull();
  });

  it("edits events and the active flag without sending a secret, and deletes only after confirmation", async () => {
    api.listWebhooks.mockImplementation(async () => [hook(1)]);
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    await renderView();
    fireEvent.click(await screen.findByTestId("webhook-edit-1"));
    expect(input("webhook-1-url").value).toBe("https://hooks.example.com/1");
    fireEvent.click(input("webhook-1-event-drift.alert"));
    fireEvent.click(input("webhook-1-active"));
    fireEvent.submit(screen.getByTestId("webhook-1-form"));
    await waitFor(() => expect(api.updateWebhook).toHaveBeenCalledWith(1, {
      url: "https://hooks.example.com/1", events: ["item.accepted", "drift.alert"], active: false }));
    await waitFor(() => expect(screen.queryByTestId("webhook-1-form")).toBeNull());

    fireEvent.click(screen.getByTestId("webhook-delete-1"));
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining("https://hooks.example.com/1"));
    expect(api.deleteWebhook).not.toHaveBeenCalled();
    confirm.mockReturnValue(true);
    fireEvent.click(screen.getByTestId("webhook-delete-1"));
    await waitFor(() => expect(api.deleteWebhook).toHaveBeenCalledWith(1));
  });

  it("sends a test and shows the ping delivered when its outcome is pushed, without polling", async () => {
    api.listWebhooks.mockImplementation(async () => [hook(1)]);
    const pending = delivery(50, { event: "ping", status: "pending", attempts: 0, last_status_code: null,
                                   next_attempt_at: new Date().toISOString() });
    api.listDeliveries.mockImplementationOnce(async () => [pending])
      .mockImplementation(async () => [delivery(50, { event: "ping" })]);
    await renderView();
    fireEvent.click(await screen.findByTestId("webhook-test-1"));
    await waitFor(() => expect(api.testWebhook).toHaveBeenCalledWith(1));
    expect((await screen.findByTestId("delivery-status-50")).textContent).toBe("pending");
    const reads = api.listDeliveries.mock.calls.length;
    act(() => FakeSocket.last!.push({ type: "webhook.delivery", webhook: 2, delivery: 60, status: "delivered",
                                      attempts: 1 }));  // another webhook's: this log is not read again
    expect(api.listDeliveries.mock.calls.length).toBe(reads);
    act(() => FakeSocket.last!.push({ type: "webhook.delivery", webhook: 1, delivery: 50, status: "delivered",
                                      attempts: 1 }));
    await waitFor(() => expect(screen.getByTestId("delivery-status-50").textContent).toBe("delivered"));
    expect(api.listDeliveries.mock.calls.length).toBe(reads + 1);
    expect(screen.getByTestId("delivery-50").textContent).toContain("200");
    expect(api.listDeliveries).toHaveBeenCalledWith(1, { limit: 21 });
  });

  it("pages the delivery log with before= the last row shown", async () => {
    api.listWebhooks.mockImplementation(async () => [hook(1)]);
    const first = Array.from({ length: 21 }, (_, i) => delivery(100 - i));
    api.listDeliveries.mockImplementation(async (_id, q) =>
      q?.before === undefined ? first : [delivery(79, { status: "failed", last_error: "ConnectError" })]);
    await renderView();
    fireEvent.click(await screen.findByTestId("webhook-log-1"));
    await screen.findByTestId("delivery-81");
    expect(screen.queryByTestId("delivery-80")).toBeNull(); // the 21st row only says there is more
    fireEvent.click(screen.getByTestId("deliveries-1-older"));
    expect((await screen.findByTestId("delivery-79")).textContent).toContain("ConnectError");
    expect(api.listDeliveries).toHaveBeenLastCalledWith(1, { limit: 21, before: 81 });
    expect(screen.queryByTestId("deliveries-1-older")).toBeNull();
  });

  it("tells a non-admin the page is for admins", async () => {
    api.listWebhooks.mockRejectedValue(new ApiError(403, "forbidden", "You do not have permission."));
    await renderView();
    expect((await screen.findByTestId("webhooks-forbidden")).textContent).toContain("admins");
    expect(screen.queryByTestId("webhook-new-form")).toBeNull();
  });
});

describe("webhook form helpers", () => {
  it("offers every event of the schema and a 64-hex secret", () => {
    expect(WEBHOOK_EVENTS.map((e) => e.value)).toEqual(
      ["item.accepted", "threshold.reached", "training.finished", "model.promoted", "drift.alert", "rollout.halted",
        "alert.opened", "alert.resolved"]);
    expect(generateSecret()).not.toBe(generateSecret());
  });

  it("maps shape errors to their fields and the rest to the form", () => {
    expect(fieldErrors(new ApiError(400, "invalid", "The request is not valid.",
                                    { events: ["Expected a list of items but got type \"str\"."] })))
      .toEqual({ events: "Expected a list of items but got type \"str\"." });
    expect(fieldErrors(new ApiError(400, "invalid_url", "x")).url).toContain("https://");
    expect(fieldErrors(new ApiError(403, "forbidden", "x")).form).toContain("admins");
    expect(fieldErrors(new ApiError(500, "server_error", "The server failed."))).toEqual({ form: "The server failed." });
  });

  it("routes #/projects/1/webhooks to the page", () => {
    expect(parseRoute("#/projects/1/webhooks")).toEqual({ name: "webhooks", project: 1 });
  });
});
