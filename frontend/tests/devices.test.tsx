// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DeviceRow, IssuedDevice, TelemetrySummary } from "../src/api/endpoints";
import { ApiError } from "../src/api/errors";
import { edgeRunCommand, edgeSetupScript } from "../src/views/devices/edgeCommand";

const device = (id: number, fields: Partial<DeviceRow> = {}): DeviceRow => ({
  id, name: `box-${id}`, token_prefix: "ld_abcdefg", site: { id: 1, name: "Main St", kind: "store" },
  cameras: [{ id: 1, name: "door-1", status: "ok", last_seen_at: null }], created_at: "2026-12-01T10:00:00Z",
  last_seen_at: null, software_version: "", model_sha256: "", revoked: false, revoked_at: null,
  health: { uptime_seconds: null, disk_free_bytes: null, temperature_c: null, fps: null, dropped_frames: null,
            outbox_depth: null, inference_fps: null, inference_ms_p50: null, inference_ms_p95: null,
            memory_used_bytes: null, memory_total_bytes: null, disk_total_bytes: null,
            outbox_oldest_age_seconds: null, crashes: null, watchdog_restarts: null }, ...fields,
});
const TOKEN = "ld_secret-token-value";

const api = {
  listDevices: vi.fn<() => Promise<DeviceRow[]>>(async () => []),
  registerDevice: vi.fn(async (_p: number, body: { name: string; cameras: string[] }): Promise<IssuedDevice> => ({
    token: TOKEN,
    device: device(7, { name: body.name, cameras: body.cameras.map((c, i) => ({ id: i, name: c, status: "", last_seen_at: null })) }),
  })),
  revokeDevice: vi.fn(async (id: number): Promise<DeviceRow> => device(id, { revoked: true })),
  listModels: vi.fn(async () => [{ sha256: "ab".repeat(32), display_name: "people-detector v3" }]),
  getTelemetrySummary: vi.fn<() => Promise<TelemetrySummary>>(async () => ({
    now: "2026-12-01T12:00:00Z", hours: 24, bucket_seconds: 3600, t: [], devices: [] })),
};
vi.mock("../src/api/endpoints", () => ({
  listDevices: () => api.listDevices(),
  listModels: () => api.listModels(),
  registerDevice: (p: number, b: { name: string; cameras: string[] }) => api.registerDevice(p, b),
  revokeDevice: (id: number) => api.revokeDevice(id),
  getTelemetrySummary: () => api.getTelemetrySummary(),
}));

const { DevicesView } = await import("../src/views/devices/DevicesView");
const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;

beforeEach(() => { for (const fn of Object.values(api)) fn.mockClear(); api.listDevices.mockImplementation(async () => []); });
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("the edge command line", () => {
  it("points the client at this server with its token file, data dir and cameras, shell-quoted", () => {
    expect(edgeRunCommand("https://loupe.example.com", ["door-1", "till 2"])).toBe(
      "loupe-edge run --server https://loupe.example.com --token-file /etc/loupe/token --data-dir /var/lib/loupe "
      + "--camera door-1 --camera 'till 2'");
    expect(edgeSetupScript("http://x", "ld_a-b", ["c"]).split("\n")[0]).toContain("printf '%s\\n' ld_a-b > /etc/loupe/token");
  });
});

describe("devices page", () => {
  it("registers a device and shows its token once, with a copy button and the lines to paste", async () => {
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal("navigator", { clipboard: { writeText } });
    render(<DevicesView project={1} />);
    fireEvent.input(input("register-site"), { target: { value: "Main St" } });
    fireEvent.input(input("register-name"), { target: { value: "main-st-door" } });
    fireEvent.input(input("register-cameras"), { target: { value: "door-1, tills" } });
    fireEvent.click(screen.getByTestId("register-submit"));
    await waitFor(() => expect(screen.getByTestId("issued-token-value").textContent).toBe(TOKEN));
    expect(api.registerDevice).toHaveBeenCalledWith(1, { site: "Main St", name: "main-st-door", cameras: ["door-1", "tills"] });
    expect(screen.getByTestId("issued-command").textContent).toContain(
      "loupe-edge run --server http://localhost:3000 --token-file /etc/loupe/token --data-dir /var/lib/loupe");
    fireEvent.click(screen.getByTestId("issued-token-copy"));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(TOKEN));
    fireEvent.click(screen.getByTestId("issued-done"));
    expect(screen.queryByTestId("issued-token")).toBeNull();
    expect(document.body.textContent).not.toContain(TOKEN);
  });

  it("shows refusals beside the fields and keeps what was typed", async () => {
    api.registerDevice.mockRejectedValueOnce(new ApiError(400, "invalid", "Invalid input.",
                                                          { name: ["A device named 'x' is already registered."] }));
    render(<DevicesView project={1} />);
    fireEvent.input(input("register-site"), { target: { value: "Main St" } });
    fireEvent.input(input("register-name"), { target: { value: "x" } });
    fireEvent.input(input("register-cameras"), { target: { value: "door-1" } });
    fireEvent.click(screen.getByTestId("register-submit"));
    await waitFor(() => expect(screen.getByTestId("register-name-error").textContent).toContain("already registered"));
    expect(document.activeElement).toBe(input("register-name"));
    expect(input("register-site").value).toBe("Main St");
    expect(screen.queryByTestId("issued-token")).toBeNull();
  });

  it("revokes a device only after a confirmation", async () => {
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    api.listDevices.mockImplementation(async () => [device(3), device(4, { revoked: true })]);
    render(<DevicesView project={1} />);
    await waitFor(() => expect(screen.getByTestId("device-revoke-3")).toBeTruthy());
    expect(screen.queryByTestId("device-revoke-4")).toBeNull();
    fireEvent.click(screen.getByTestId("device-revoke-3"));
    expect(api.revokeDevice).not.toHaveBeenCalled();
    confirm.mockReturnValue(true);
    fireEvent.click(screen.getByTestId("device-revoke-3"));
    await waitFor(() => expect(api.revokeDevice).toHaveBeenCalledWith(3));
    await waitFor(() => expect(screen.getByTestId("devices-notice").textContent).toBe("Revoked box-3."));
  });
});

describe("devices page model names", () => {
  it("names a device's model as the models page does, and shows an unknown file by its short hash", async () => {
    api.listDevices.mockImplementation(async () => [device(1, { model_sha256: "ab".repeat(32) }),
                                                    device(2, { model_sha256: "cd".repeat(32) })]);
    render(<DevicesView project={1} />);
    await waitFor(() => expect(screen.getByTestId("device-model-1").textContent).toBe("people-detector v3"));
    expect(screen.getByTestId("device-model-2").textContent).toBe("cdcdcdcdcdcd");
  });
});

describe("device health on the devices page", () => {
  it("shows each camera's status as a chip, sparklines, disk and memory use and the link to the device", async () => {
    const now = Date.now();
    api.listDevices.mockImplementation(async () => [device(5, {
      last_seen_at: new Date(now - 60_000).toISOString(),
      cameras: [{ id: 1, name: "door-1", status: { status: "ok", fps: 15 }, last_seen_at: null },
                { id: 2, name: "till", status: { status: "offline", message: "no frames for 90 s" }, last_seen_at: null }],
      health: { ...device(5).health, disk_free_bytes: 4e9, disk_total_bytes: 40e9, memory_used_bytes: 1.9e9,
                memory_total_bytes: 2e9, watchdog_restarts: 2 },
    })]);
    api.getTelemetrySummary.mockImplementation(async () => ({
      now: new Date(now).toISOString(), hours: 3, bucket_seconds: 3600, t: [0, 3600, 7200],
      devices: [{ device: 5, inference_ms_p95: [80, null, 95], fps: [15, 15, 14], inference_fps: [9, 10, 8],
                  outbox_depth: [0, 3, 12] }] }));
    render(<DevicesView project={1} />);
    await waitFor(() => expect(screen.getByTestId("spark-p95-5").dataset.points).toBe("2"));
    expect(screen.getByTestId("spark-fps-5").dataset.points).toBe("3,3");
    expect(screen.getByTestId("spark-outbox-5").querySelector("svg")!.getAttribute("aria-label")).toContain("depth 12");
    expect(screen.getByTestId("camera-chip-2").className).toContain("camera-offline");
    expect(screen.getByTestId("camera-chip-2").textContent).toBe("till: offline");
    expect(screen.getByTestId("camera-chip-1").className).toContain("camera-ok");
    expect(screen.getByTestId("device-status-5").textContent).toBe("online");
    expect(screen.getByTestId("device-disk-5").textContent).toBe("90 %");
    expect(screen.getByTestId("device-memory-5").textContent).toBe("95 %");
    expect(screen.getByTestId("device-watchdog-5").textContent).toBe("2");
    expect(screen.getByTestId("device-link-5").getAttribute("href")).toBe("#/projects/1/devices/5");
  });
});
