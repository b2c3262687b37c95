// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api/errors";
import { setPasswordLink } from "../src/router";

const api = { setPassword: vi.fn<(body: Record<string, string>) => Promise<void>>(async () => undefined) };
vi.mock("../src/api/endpoints", () => ({ setPassword: (b: Record<string, string>) => api.setPassword(b) }));

const { SetPasswordView } = await import("../src/views/SetPasswordView");

const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;

function fill(password: string, confirm = password) {
  fireEvent.input(input("set-password-new"), { target: { value: password } });
  fireEvent.input(input("set-password-confirm"), { target: { value: confirm } });
  fireEvent.click(screen.getByTestId("set-password-submit"));
}

beforeEach(() => { api.setPassword.mockReset(); api.setPassword.mockImplementation(async () => undefined); });
afterEach(cleanup);

describe("the emailed set-password link", () => {
  it("is read from the path and query, and only there", () => {
    expect(setPasswordLink("/set-password", "?uid=MTI&token=cx-abc")).toEqual({ uid: "MTI", token: "cx-abc" });
    expect(setPasswordLink("/set-password/", "?uid=MTI&token=cx-abc")).toEqual({ uid: "MTI", token: "cx-abc" });
    expect(setPasswordLink("/set-password", "")).toEqual({ uid: "", token: "" });
    expect(setPasswordLink("/", "?uid=MTI&token=cx-abc")).toBeNull();
  });
});

describe("set your password", () => {
  it("posts the link's uid and token with the new password, then offers to sign in", async () => {
    render(<SetPasswordView uid="MTI" token="cx-abc" />);
    fill("a-long-enough-passphrase");
    await waitFor(() => expect(screen.getByTestId("set-password-done")).toBeTruthy());
    expect(api.setPassword).toHaveBeenCalledWith({ uid: "MTI", token: "cx-abc", new_password: "a-long-enough-passphrase" });
    expect(screen.getByTestId("set-password-sign-in").getAttribute("href")).toBe("/#/login");
  });

  it("shows the server's password rules beside the field and focuses it", async () => {
    api.setPassword.mockRejectedValueOnce(new ApiError(400, "weak_password", "The password is too weak.", {
      new_password: ["This password is too short.", "This password is entirely numeric."] }));
    render(<SetPasswordView uid="MTI" token="cx-abc" />);
    fill("1234");
    await waitFor(() => expect(screen.getByTestId("set-password-new-error").textContent)
      .toBe("This password is too short. This password is entirely numeric."));
    expect(input("set-password-new").getAttribute("aria-invalid")).toBe("true");
    expect(input("set-password-new").getAttribute("aria-describedby")).toContain("set-password-new-error");
    expect(document.activeElement).toBe(input("set-password-new"));
    expect(screen.queryByTestId("set-password-done")).toBeNull();
  });

  it("refuses two different passwords without asking the server", async () => {
    render(<SetPasswordView uid="MTI" token="cx-abc" />);
    fill("a-long-enough-passphrase", "a-long-enough-passphrasf");
    await waitFor(() => expect(screen.getByTestId("set-password-confirm-error").textContent).toContain("differ"));
    expect(api.setPassword).not.toHaveBeenCalled();
  });

  it("says an expired link is not valid and how to get another", async () => {
    api.setPassword.mockRejectedValueOnce(new ApiError(400, "invalid_link", "This link is not valid or has expired."));
    render(<SetPasswordView uid="MTI" token="old" />);
    fill("a-long-enough-passphrase");
    await waitFor(() => expect(screen.getByTestId("set-password-error").textContent).toContain("has expired"));
  });

  it("explains an incomplete link instead of showing the form", () => {
    render(<SetPasswordView uid="" token="" />);
    expect(screen.getByTestId("set-password-bad-link")).toBeTruthy();
    expect(screen.queryByTestId("set-password-new")).toBeNull();
  });
});
