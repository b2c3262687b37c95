// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { afterEach, describe, expect, it, vi } from "vitest";

const rolloutAction = vi.fn(async () => ({}));
const listRollouts = vi.fn(async () => [
  { id: 7, project: 1, model: 2, previous: 1, status: "running", stage_index: 1,
    stages: [{ devices: ["bus-1"] }, { percent: 50 }, { percent: 100 }], gates: [],
    last_evaluation: { decision: "wait", at: "2026-12-01T10:00:00Z" }, halt_reason: {}, created_by: "dana",
    stage_started_at: "2026-12-01T09:00:00Z", created_at: "2026-12-01T08:00:00Z", finished_at: null },
]);
vi.mock("../src/api/endpoints", () => ({
  listRollouts: () => listRollouts(),
  rolloutAction: (...args: unknown[]) => rolloutAction(...(args as [])),
}));

const models = [{ id: 2, display_name: "people-det v2" }, { id: 1, display_name: "people-det v1" }];

afterEach(() => { cleanup(); vi.unstubAllGlobals(); rolloutAction.mockClear(); });

describe("rollouts panel", () => {
  it("shows the stage and lets an admin pause at the stage it shows", async () => {
    vi.stubGlobal("confirm", () => true);
    const { RolloutsPanel } = await import("../src/views/models/RolloutsPanel");
    const onChange = vi.fn();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    render(<RolloutsPanel project={1} models={models as any} admin onChange={onChange} />);
    await waitFor(() => expect(screen.getByTestId("rollout-7").textContent).toContain("2 of 3"));
    expect(screen.getByTestId("rollout-7").textContent).toContain("people-det v2");
    expect(screen.queryByTestId("rollout-resume-7")).toBeNull();
    fireEvent.click(screen.getByTestId("rollout-pause-7"));
    await waitFor(() => expect(rolloutAction).toHaveBeenCalledWith(7, "pause", 1));
    await waitFor(() => expect(onChange).toHaveBeenCalled());
  });

  it("offers no actions to people who are not admins", async () => {
    const { RolloutsPanel } = await import("../src/views/models/RolloutsPanel");
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    render(<RolloutsPanel project={1} models={models as any} admin={false} onChange={() => {}} />);
    await waitFor(() => expect(screen.getByTestId("rollout-7")).toBeTruthy());
    expect(screen.queryByTestId("rollout-pause-7")).toBeNull();
  });
});
