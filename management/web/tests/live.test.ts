import { applyLive, columns, initialLive, type LiveEvent } from "../src/live";

const infer = (id: string) => ({ stage_id: id, stage_kind: "infer", name: `infer ${id}` });

// events as the server replays them: planned, started, progress, finished, experiment_finished
const events: LiveEvent[] = [
  { seq: 1, type: "stage_planned", stage_id: "s1", stage_kind: "sync", name: "sync d", depends_on: [] },
  { seq: 2, type: "stage_planned", ...infer("i1"), depends_on: ["s1"] },
  { seq: 3, type: "stage_planned", stage_id: "r1", stage_kind: "report", name: "report", depends_on: ["i1"] },
  { seq: 4, type: "stage_started", stage_id: "s1", stage_kind: "sync", name: "sync d", ts: 100 },
  { seq: 5, type: "stage_finished", stage_id: "s1", stage_kind: "sync", name: "sync d", ts: 101 },
  { seq: 6, type: "stage_started", ...infer("i1"), ts: 101 },
  { seq: 7, type: "stage_progress", ...infer("i1"), done: 2, total: 10, ts: 102 },
  { seq: 8, type: "resource_sample", ...infer("i1"), metrics: { rss_mb: 512 }, ts: 102.5 },
  { seq: 9, type: "stage_progress", ...infer("i1"), done: 6, total: 10, ts: 104 },
];

describe("live reducer", () => {
  it("folds stage events into states, progress, samples/s and memory", () => {
    const state = events.reduce(applyLive, initialLive());
    expect(state.order).toEqual(["s1", "i1", "r1"]);
    expect(state.stages.s1.state).toBe("done");
    expect(state.stages.i1).toMatchObject({ state: "running", done: 6, total: 10, deps: ["s1"] });
    expect(state.stages.r1.state).toBe("planned");
    expect(state.samplesPerSecond).toBeCloseTo(2); // (6 - 2) samples over 2 s
    expect(state.resources).toEqual({ rss_mb: 512 });
    expect(state.finished).toBeNull();
  });

  it("ignores events it already has (a reconnect replays from ?after=)", () => {
    const once = events.reduce(applyLive, initialLive());
    const twice = events.reduce(applyLive, once);
    expect(twice).toBe(once);
  });

  it("ends on experiment_finished with the status and error", () => {
    const state = [...events, { seq: 10, type: "experiment_finished", status: "failed", error: "boom" }].reduce(
      applyLive,
      initialLive(),
    );
    expect(state.finished).toBe("failed");
    expect(state.error).toBe("boom");
    expect(state.samplesPerSecond).toBeNull();
  });

  it("starts from the stages GET returned and lays them out in pipeline order", () => {
    const state = initialLive([
      { id: "r", kind: "report", state: "planned" },
      { id: "i", kind: "infer", state: "running" },
      { id: "s", kind: "sync", state: "done" },
    ]);
    expect(columns(state).map((c) => c.kind)).toEqual(["sync", "infer", "report"]);
  });
});
