// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TrainerChanges, TrainerConfig } from "../src/api/endpoints";
import { ApiError } from "../src/api/errors";
import { changesFrom, draftOf, trainerFieldErrors } from "../src/views/models/trainerSettings";

const stored = (fields: Partial<TrainerConfig> = {}): TrainerConfig => ({
  threshold: 500, per_site_threshold: 0, backend: "reference", command: "", allowed_commands: ["yolo-finetune"],
  webhook_url: "", webhook_secret_set: false, epochs: 20, auto_promote: false, promote_margin: 0.02,
  slice_tolerance: 0.05, ...fields,
});

const api = {
  role: "admin",
  readTrainerConfig: vi.fn<(p: number) => Promise<TrainerConfig>>(async () => stored()),
  updateTrainerConfig: vi.fn(async (_p: number, changes: TrainerChanges): Promise<TrainerConfig> =>
    stored({ ...changes, webhook_secret_set: !!changes.webhook_secret })),
};
vi.mock("../src/api/endpoints", () => ({
  readProject: vi.fn(async () => ({ id: 1, role: api.role, label_classes: ["person"] })),
  listModels: vi.fn(async () => []),
  listTrainingRuns: vi.fn(async () => []),
  listDatasets: vi.fn(async () => []),
  readTrainerConfig: (p: number) => api.readTrainerConfig(p),
  updateTrainerConfig: (p: number, c: TrainerChanges) => api.updateTrainerConfig(p, c),
  readEvaluation: vi.fn(), promoteModel: vi.fn(), rollbackModel: vi.fn(), listRollouts: vi.fn(async () => []), rolloutAction: vi.fn(), startEvaluation: vi.fn(),
  uploadModel: vi.fn(), requestRetrain: vi.fn(), requestExport: vi.fn(), readExport: vi.fn(),
}));

const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;
const type = (testId: string, value: string) => fireEvent.input(input(testId), { target: { value } });

async function renderSettings() {
  const { RetrainingSettings } = await import("../src/views/models/RetrainingSettings");
  render(<RetrainingSettings project={1} />);
  return screen.findByTestId("trainer-form");
}

beforeEach(() => {
  api.role = "admin";
  api.readTrainerConfig.mockReset().mockImplementation(async () => stored());
  api.updateTrainerConfig.mockClear();
});
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("retraining settings", () => {
  it("shows the stored values, margin and tolerance disabled while auto-promote is off", async () => {
    api.readTrainerConfig.mockImplementation(async () => stored({ per_site_threshold: 40, epochs: 30 }));
    await renderSettings();
    expect(input("trainer-threshold").value).toBe("500");
    expect(input("trainer-per_site_threshold").value).toBe("40");
    expect(input("trainer-epochs").value).toBe("30");
    expect(input("trainer-backend-reference").checked).toBe(true);
    expect(input("trainer-auto_promote").checked).toBe(false);
    expect(input("trainer-promote_margin").value).toBe("0.02");
    expect(input("trainer-promote_margin").disabled).toBe(true);
    expect(input("trainer-slice_tolerance").disabled).toBe(true);
    expect(screen.getByLabelText("Retraining threshold (accepted corrections)")).toBe(input("trainer-threshold"));
    expect(screen.getByTestId("retraining-settings").textContent).toContain("clear win on every slice");
    expect(api.readTrainerConfig).toHaveBeenCalledWith(1);
  });

  it("sends only the changed fields and confirms the save", async () => {
    await renderSettings();
    type("trainer-threshold", "800");
    fireEvent.click(input("trainer-auto_promote"));
    expect(input("trainer-promote_margin").disabled).toBe(false);
    type("trainer-promote_margin", "0,03"); // a decimal comma is a decimal point
    fireEvent.submit(screen.getByTestId("trainer-form"));
    await waitFor(() => expect(api.updateTrainerConfig).toHaveBeenCalledTimes(1));
    expect(api.updateTrainerConfig).toHaveBeenCalledWith(1, { threshold: 800, auto_promote: true, promote_margin: 0.03 });
    await waitFor(() => expect(screen.getByTestId("trainer-saved").textContent).toContain("Saved 3 changes"));
    expect(screen.getByTestId("trainer-saved").textContent).toContain("starts at 800 accepted corrections");
    expect(input("trainer-threshold").value).toBe("800");

    // Saved again without a change: nothing is sent.
    fireEvent.submit(screen.getByTestId("trainer-form"));
    await waitFor(() => expect(screen.getByTestId("trainer-saved").textContent).toContain("Nothing to save"));
    expect(api.updateTrainerConfig).toHaveBeenCalledTimes(1);
  });

  it("shows a refused pipeline URL beside the field in words and keeps everything typed", async () => {
    api.updateTrainerConfig.mockRejectedValueOnce(new ApiError(400, "url_not_allowed",
      "This host is not in LOUPE_OUTBOUND_ALLOWED_HOSTS.", { host: "ml.evil.example.net" }));
    await renderSettings();
    fireEvent.click(input("trainer-backend-webhook"));
    expect(screen.queryByTestId("trainer-secret-stored")).toBeNull();
    type("trainer-webhook_url", "https://ml.evil.example.net/train");
    fireEvent.click(screen.getByTestId("trainer-webhook_secret-generate"));
    const secret = input("trainer-webhook_secret").value;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    type("trainer-epochs", "50");
    fireEvent.submit(screen.getByTestId("trainer-form"));

    const error = await screen.findByTestId("trainer-webhook_url-error");
    expect(error.textContent).toContain("Loupe may not send to ml.evil.example.net");
    expect(error.textContent).toContain("LOUPE_OUTBOUND_ALLOWED_HOSTS");
    const url = input("trainer-webhook_url");
    expect(url.getAttribute("aria-invalid")).toBe("true");
    expect(url.getAttribute("aria-describedby")).toContain("trainer-webhook_url-error");
    expect(document.activeElement).toBe(url);
    expect(url.value).toBe("https://ml.evil.example.net/train");
    expect(input("trainer-webhook_secret").value).toBe(secret);
    expect(input("trainer-epochs").value).toBe("50");
    expect(input("trainer-backend-webhook").checked).toBe(true);
    expect(api.updateTrainerConfig).toHaveBeenLastCalledWith(1, {
      backend: "webhook", webhook_url: "https://ml.evil.example.net/train", webhook_secret: secret, epochs: 50 });

    type("trainer-webhook_url", "https://ml.example.com/train");
    fireEvent.submit(screen.getByTestId("trainer-form"));
    await waitFor(() => expect(screen.getByTestId("trainer-saved").textContent).toContain("Saved 4 changes"));
    expect(screen.queryByTestId("trainer-webhook_url-error")).toBeNull();
    expect(input("trainer-webhook_secret").value).toBe(""); // write-only: cleared once stored
    expect(screen.getByTestId("trainer-secret-stored").textContent).toContain("A secret is stored");
  });

  it("puts a 400's field message beside that field, in words, keeping the value", async () => {
    api.updateTrainerConfig.mockRejectedValueOnce(new ApiError(400, "invalid", "The request is not valid.",
      { threshold: ["Ensure this value is less than or equal to 10000000."] }));
    await renderSettings();
    type("trainer-threshold", "20000");
    fireEvent.submit(screen.getByTestId("trainer-form"));
    const error = await screen.findByTestId("trainer-threshold-error");
    expect(error.textContent).toContain("Enter a whole number from 1 to 10,000,000");
    expect(input("trainer-threshold").value).toBe("20000");
    expect(document.activeElement).toBe(input("trainer-threshold"));
    expect(screen.queryByTestId("trainer-error")).toBeNull();
  });

  it("refuses a threshold that is not a whole number itself, sending nothing", async () => {
    await renderSettings();
    type("trainer-threshold", "0");
    type("trainer-epochs", "ten");
    fireEvent.submit(screen.getByTestId("trainer-form"));
    expect((await screen.findByTestId("trainer-threshold-error")).textContent).toContain("from 1 to 10,000,000");
    expect(screen.getByTestId("trainer-epochs-error").textContent).toContain("from 1 to 1000");
    expect(input("trainer-epochs").value).toBe("ten");
    expect(api.updateTrainerConfig).not.toHaveBeenCalled();
  });

  it("says so when the server allows no trainer commands", async () => {
    api.readTrainerConfig.mockImplementation(async () => stored({ allowed_commands: [] }));
    await renderSettings();
    fireEvent.click(input("trainer-backend-command"));
    expect(screen.getByTestId("trainer-command-hint").textContent).toContain("This server allows no trainer commands");
    fireEvent.submit(screen.getByTestId("trainer-form"));
    expect((await screen.findByTestId("trainer-command-error")).textContent).toContain("Choose another backend");
    expect(document.activeElement).toBe(screen.getByLabelText("Command")); // the keyboard is taken to it
    expect(api.updateTrainerConfig).not.toHaveBeenCalled();
  });

  it("offers the allowed commands and sends the chosen one", async () => {
    await renderSettings();
    fireEvent.click(input("trainer-backend-command"));
    const select = screen.getByLabelText("Command") as HTMLSelectElement;
    expect(Array.from(select.options).map((o) => o.value)).toEqual(["", "yolo-finetune"]);
    fireEvent.change(select, { target: { value: "yolo-finetune" } });
    fireEvent.submit(screen.getByTestId("trainer-form"));
    await waitFor(() => expect(api.updateTrainerConfig).toHaveBeenCalledWith(1, { backend: "command",
                                                                                    command: "yolo-finetune" }));
  });

  it("tells that a webhook secret is stored and keeps it when the field stays empty", async () => {
    api.readTrainerConfig.mockImplementation(async () => stored({ backend: "webhook", webhook_secret_set: true,
                                                                 webhook_url: "https://ml.example.com/train" }));
    await renderSettings();
    expect(screen.getByTestId("trainer-secret-stored").textContent).toContain("A secret is stored");
    expect(screen.getByLabelText("New signing secret (leave empty to keep the stored one)")).toBeTruthy();
    type("trainer-per_site_threshold", "25");
    fireEvent.submit(screen.getByTestId("trainer-form"));
    await waitFor(() => expect(api.updateTrainerConfig).toHaveBeenCalledWith(1, { per_site_threshold: 25 }));
  });

  it("is not shown to a non-admin on the models page", async () => {
    vi.stubGlobal("WebSocket", class { close() {} });
    api.role = "reviewer";
    const { ModelsView } = await import("../src/views/models/ModelsView");
    render(<ModelsView project={1} />);
    await screen.findByTestId("training");
    await waitFor(() => expect(screen.queryByText("No models uploaded yet.")).toBeTruthy());
    expect(screen.queryByTestId("retraining-settings")).toBeNull();
    expect(api.readTrainerConfig).not.toHaveBeenCalled();
  });

  it("is shown to an admin on the models page", async () => {
    vi.stubGlobal("WebSocket", class { close() {} });
    const { ModelsView } = await import("../src/views/models/ModelsView");
    render(<ModelsView project={1} />);
    await screen.findByTestId("trainer-form");
    expect(input("trainer-threshold").value).toBe("500");
  });
});

describe("retraining settings logic", () => {
  it("leaves margin and tolerance alone while auto-promote stays off", () => {
    const draft = { ...draftOf(stored()), promote_margin: "oops" };
    expect(changesFrom(stored(), draft)).toEqual({ changes: {}, errors: {} });
  });

  it("asks for the pipeline's address and a secret when switching to the webhook backend", () => {
    const { errors } = changesFrom(stored(), { ...draftOf(stored()), backend: "webhook" });
    expect(errors.webhook_url).toContain("address of your training pipeline");
    expect(errors.webhook_secret).toContain("Generate");
    const short = changesFrom(stored(), { ...draftOf(stored()), backend: "webhook", webhook_secret: "short",
                                          webhook_url: "https://ml.example.com/train" });
    expect(short.errors).toEqual({ webhook_secret: expect.stringContaining("at least 32 characters") });
  });

  it("sends a backend's own fields only while that backend is chosen", () => {
    const typed = { ...draftOf(stored()), webhook_url: "https://ml.example.com/train", webhook_secret: "s".repeat(40),
                    command: "yolo-finetune", threshold: "600" };
    expect(changesFrom(stored(), typed)).toEqual({ changes: { threshold: 600 }, errors: {} });
    expect(changesFrom(stored(), { ...typed, backend: "command" }).changes).toEqual(
      { threshold: 600, backend: "command", command: "yolo-finetune" });
  });

  it("maps refusals: a 403 and an unknown error to the form, non-field errors too", () => {
    expect(trainerFieldErrors(new ApiError(403, "forbidden", "x")).form).toContain("admins");
    expect(trainerFieldErrors(new ApiError(500, "server_error", "The server failed."))).toEqual(
      { form: "The server failed." });
    expect(trainerFieldErrors(new ApiError(400, "invalid", "x", { non_field_errors: ["No."] }))).toEqual({ form: "No." });
    expect(trainerFieldErrors(new ApiError(400, "invalid", "x", { command: ["Not allowed."] })).command)
      .toContain("does not allow that command");
  });
});
