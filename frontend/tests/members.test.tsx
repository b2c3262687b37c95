// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MemberRow, SiteRow } from "../src/api/endpoints";
import { ApiError } from "../src/api/errors";
import { parseRoute } from "../src/router";

const member = (id: number, username: string, fields: Partial<MemberRow> = {}): MemberRow => ({
  id, user: id + 100, username, email: `${username}@example.com`, role: "annotator", sites: [], active: true,
  added_at: "2026-12-01T10:00:00Z", last_login: null, ...fields,
});
const SITES: SiteRow[] = [{ id: 5, name: "Depot" }, { id: 6, name: "Main St" }];

const api = {
  listMembers: vi.fn<() => Promise<MemberRow[]>>(async () => []),
  listSites: vi.fn<() => Promise<SiteRow[]>>(async () => SITES),
  inviteMember: vi.fn<(p: number, b: Record<string, unknown>) => Promise<{ existingAccount: boolean }>>(
    async () => ({ existingAccount: false })),
  changeMember: vi.fn(async (_p: number, id: number, b: Record<string, unknown>): Promise<MemberRow> =>
    member(id, "alice", b as Partial<MemberRow>)),
  removeMember: vi.fn<(p: number, id: number) => Promise<void>>(async () => undefined),
};
vi.mock("../src/api/endpoints", () => ({
  listMembers: () => api.listMembers(),
  listSites: () => api.listSites(),
  inviteMember: (p: number, b: Record<string, unknown>) => api.inviteMember(p, b),
  changeMember: (p: number, id: number, b: Record<string, unknown>) => api.changeMember(p, id, b),
  removeMember: (p: number, id: number) => api.removeMember(p, id),
}));

const { MembersView } = await import("../src/views/members/MembersView");

const input = (testId: string) => screen.getByTestId(testId) as HTMLInputElement;

async function renderView(rows: MemberRow[]) {
  api.listMembers.mockImplementation(async () => rows);
  render(<MembersView project={1} />);
  await waitFor(() => expect(screen.getByTestId("member-list").children.length).toBe(rows.length));
}

beforeEach(() => { for (const fn of Object.values(api)) fn.mockClear(); });
afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

describe("members page", () => {
  it("has its route", () => {
    expect(parseRoute("#/projects/3/members")).toEqual({ name: "members", project: 3 });
  });

  it("lists members with their role, sites and who has not set a password yet", async () => {
    await renderView([member(1, "alice"), member(2, "mo", { role: "manager", sites: [SITES[1]!], active: false })]);
    expect(input("member-1-role").value).toBe("annotator");
    expect(input("member-2-role").value).toBe("manager");
    expect(input("member-2-site-6").checked).toBe(true);
    expect(input("member-2-site-5").checked).toBe(false);
    expect(screen.getByTestId("member-2-invited")).toBeTruthy();
    expect(screen.queryByTestId("member-1-invited")).toBeNull();
  });

  it("invites a store manager with their sites", async () => {
    await renderView([member(1, "alice")]);
    fireEvent.input(input("invite-username"), { target: { value: "mo" } });
    fireEvent.input(input("invite-email"), { target: { value: "mo@example.com" } });
    fireEvent.change(input("invite-role"), { target: { value: "manager" } });
    fireEvent.click(input("invite-site-6"));
    fireEvent.click(screen.getByTestId("invite-submit"));
    await waitFor(() => expect(api.inviteMember).toHaveBeenCalledWith(1, {
      username: "mo", email: "mo@example.com", role: "manager", sites: [6] }));
    await waitFor(() => expect(screen.getByTestId("members-notice").textContent).toContain("Invited mo"));
  });

  it("says an existing account was added, not invited to set a password", async () => {
    api.inviteMember.mockResolvedValueOnce({ existingAccount: true });
    await renderView([member(1, "alice")]);
    fireEvent.input(input("invite-username"), { target: { value: "mo" } });
    fireEvent.input(input("invite-email"), { target: { value: "mo@example.com" } });
    fireEvent.click(screen.getByTestId("invite-submit"));
    await waitFor(() => expect(screen.getByTestId("members-notice").textContent).toContain(
      "Added mo, who already has an account"));
  });

  it("shows the server's refusals beside the invitation's fields and keeps what was typed", async () => {
    api.inviteMember.mockRejectedValueOnce(new ApiError(400, "invalid", "Invalid input.",
                                                        { email: ["Enter a valid email address."] }));
    await renderView([]);
    fireEvent.input(input("invite-username"), { target: { value: "mo" } });
    fireEvent.input(input("invite-email"), { target: { value: "mo@" } });
    fireEvent.click(screen.getByTestId("invite-submit"));
    await waitFor(() => expect(screen.getByTestId("invite-email-error").textContent).toBe("Enter a valid email address."));
    expect(input("invite-email").getAttribute("aria-describedby")).toContain("invite-email-error");
    expect(document.activeElement).toBe(input("invite-email"));
    expect(input("invite-username").value).toBe("mo");
  });

  it("asks for sites before inviting a manager without any", async () => {
    await renderView([]);
    fireEvent.input(input("invite-username"), { target: { value: "mo" } });
    fireEvent.input(input("invite-email"), { target: { value: "mo@example.com" } });
    fireEvent.change(input("invite-role"), { target: { value: "operator" } });
    fireEvent.click(screen.getByTestId("invite-submit"));
    await waitFor(() => expect(screen.getByTestId("invite-sites-error").textContent).toContain("at least one"));
    expect(api.inviteMember).not.toHaveBeenCalled();
  });

  it("changes a role and sites in place", async () => {
    await renderView([member(1, "alice")]);
    expect((screen.getByTestId("member-1-save") as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(input("member-1-role"), { target: { value: "manager" } });
    fireEvent.click(input("member-1-site-5"));
    fireEvent.click(screen.getByTestId("member-1-save"));
    await waitFor(() => expect(api.changeMember).toHaveBeenCalledWith(1, 1, { role: "manager", sites: [5] }));
  });

  it("says why the last admin cannot be demoted", async () => {
    api.changeMember.mockRejectedValueOnce(new ApiError(409, "last_admin", "A project needs at least one admin."));
    await renderView([member(1, "dana", { role: "admin" })]);
    fireEvent.change(input("member-1-role"), { target: { value: "reviewer" } });
    fireEvent.click(screen.getByTestId("member-1-save"));
    await waitFor(() => expect(screen.getByTestId("member-1-error").textContent).toContain("only admin"));
  });

  it("removes a member only after a confirmation", async () => {
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    await renderView([member(1, "alice")]);
    fireEvent.click(screen.getByTestId("member-1-remove"));
    expect(confirm).toHaveBeenCalled();
    expect(api.removeMember).not.toHaveBeenCalled();
    confirm.mockReturnValue(true);
    fireEvent.click(screen.getByTestId("member-1-remove"));
    await waitFor(() => expect(api.removeMember).toHaveBeenCalledWith(1, 1));
    await waitFor(() => expect(screen.getByTestId("members-notice").textContent).toBe("Removed alice from the project."));
  });
});
