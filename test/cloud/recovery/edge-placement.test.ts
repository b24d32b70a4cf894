// Edge placement (pure): capability and resource filters, scoring by heap,
// CPU, link and affinity, stickiness, moves off offline devices, determinism;
// and the job wire form both sides share (shared/edge-jobs.ts).
import { describe, expect, it } from "vitest";
import { DEFAULT_EDGE_PLACEMENT_LIMITS, isEdgeAssignment, placeEdgeJobs, type EdgeJobSpec, type EdgeNode } from "../../../cloud/recovery/edge-placement";
import { EDGE_JOB_DEMAND, edgeJobDef, edgeNodesOf } from "../../../cloud/recovery/edge-scheduler";
import { encodeJob, jobsFromSettings, jobsPerDeviceMax, parseJob } from "../../../shared/edge-jobs";
import { emptyDeviceState, publicState, type DeviceState } from "../../../cloud/state";
import { Role } from "../../../shared/proto/xsfleet.gen";

function node(id: string, over: Partial<EdgeNode> = {}): EdgeNode {
  return {
    deviceId: id, online: true, capabilities: ["relay", "aggregate", "rules"], freeHeapBytes: 96 * 1024, flashFreeBytes: 1 << 20,
    cpuLoadCentiPct: 1_000, rssiDbm: -60, children: [], ...over,
  };
}

function job(id: string, kind: EdgeJobSpec["kind"], sources: string[] = []): EdgeJobSpec {
  return { id, kind, demand: EDGE_JOB_DEMAND[kind], sources };
}

const owner = (plan: ReturnType<typeof placeEdgeJobs>, id: string): string | null => {
  const d = plan.decisions.find((x) => x.jobId === id)!;
  return isEdgeAssignment(d) ? d.deviceId : null;
};

describe("placeEdgeJobs", () => {
  it("places a job only on an online device with the kind's capability and the resources", () => {
    const nodes = [
      node("a", { capabilities: ["relay", "aggregate"] }), // no "rules"
      node("b", { online: false }),
      node("c", { freeHeapBytes: 18 * 1024 }), // below reserve after the demand
      node("d", { cpuLoadCentiPct: 7_900 }), // cpu above max after the demand
      node("e", { rssiDbm: -95 }), // link too weak
      node("f"),
    ];
    const plan = placeEdgeJobs([job("r1", "rules")], nodes, new Map());
    expect(owner(plan, "r1")).toBe("f");
    const why = Object.fromEntries(plan.decisions[0]!.considered.map((c) => [c.nodeId, c.why ?? "fits"]));
    expect(why.a).toMatch(/capability rules/);
    expect(why.b).toBe("offline");
    expect(why.c).toMatch(/^heap/);
    expect(why.d).toMatch(/^cpu/);
    expect(why.e).toMatch(/^link/);
  });

  it("prefers free heap, idle CPU and a better link; ties go to the smaller id", () => {
    expect(owner(placeEdgeJobs([job("j", "rules")], [node("a"), node("b", { freeHeapBytes: 120 * 1024 })], new Map()), "j")).toBe("b");
    expect(owner(placeEdgeJobs([job("j", "rules")], [node("a", { cpuLoadCentiPct: 5_000 }), node("b")], new Map()), "j")).toBe("b");
    expect(owner(placeEdgeJobs([job("j", "rules")], [node("a", { rssiDbm: -80 }), node("b", { rssiDbm: -40 })], new Map()), "j")).toBe("b");
    expect(owner(placeEdgeJobs([job("j", "rules")], [node("b"), node("a")], new Map()), "j")).toBe("a");
  });

  it("an aggregate job goes to the gateway its sources are children of", () => {
    const nodes = [node("gw-0", { children: ["s1", "s2"] }), node("gw-1", { children: ["s3"], freeHeapBytes: 128 * 1024 })];
    expect(owner(placeEdgeJobs([job("agg", "aggregate", ["s1", "s2"])], nodes, new Map()), "agg")).toBe("gw-0");
    expect(owner(placeEdgeJobs([job("agg", "aggregate", ["s3"])], nodes, new Map()), "agg")).toBe("gw-1");
  });

  it("spreads jobs, keeps a current owner that still fits, and moves a job off an offline owner", () => {
    const nodes = [node("p1"), node("p2")];
    const first = placeEdgeJobs([job("r1", "rules"), job("r2", "rules")], nodes, new Map());
    expect(new Set([owner(first, "r1"), owner(first, "r2")])).toEqual(new Set(["p1", "p2"]));
    // p2 now looks a little better, but r1 stays where it runs (no flapping).
    const sticky = placeEdgeJobs([job("r1", "rules")], [node("p1"), node("p2", { freeHeapBytes: 110 * 1024 })], new Map([["r1", "p1"]]));
    expect(owner(sticky, "r1")).toBe("p1");
    expect(sticky.changes).toEqual([]);
    const failed = placeEdgeJobs([job("r1", "rules")], [node("p1", { online: false }), node("p2")], new Map([["r1", "p1"]]));
    expect(owner(failed, "r1")).toBe("p2");
    expect(failed.changes.map((c) => [c.jobId, c.previous])).toEqual([["r1", "p1"]]);
    const none = placeEdgeJobs([job("r1", "rules")], [node("p1", { online: false })], new Map([["r1", "p1"]]));
    expect(owner(none, "r1")).toBeNull();
    expect(none.changes).toHaveLength(1);
  });

  it("never gives a device more than jobsPerDeviceMax jobs, and charges each job's demand", () => {
    const jobs = Array.from({ length: jobsPerDeviceMax + 2 }, (_, i) => job(`r${String(i).padStart(2, "0")}`, "rules"));
    const plan = placeEdgeJobs(jobs, [node("only", { freeHeapBytes: 1 << 20 })], new Map(), { ...DEFAULT_EDGE_PLACEMENT_LIMITS, cpuCentiPctMax: 10_000 });
    const placed = plan.decisions.filter(isEdgeAssignment);
    expect(placed).toHaveLength(jobsPerDeviceMax);
    const small = placeEdgeJobs([job("a1", "aggregate"), job("a2", "aggregate")], [node("g", { freeHeapBytes: 16 * 1024 + 9 * 1024 })], new Map());
    expect(small.decisions.filter(isEdgeAssignment)).toHaveLength(1);
  });

  it("is deterministic: input order does not matter; bounds are enforced", () => {
    const nodes = [node("a"), node("b", { cpuLoadCentiPct: 2_000 }), node("c", { freeHeapBytes: 64 * 1024 })];
    const jobs = [job("x", "rules"), job("y", "aggregate"), job("z", "relay")];
    const one = placeEdgeJobs(jobs, nodes, new Map());
    const two = placeEdgeJobs([...jobs].reverse(), [...nodes].reverse(), new Map());
    expect(two).toEqual(one);
    expect(() => placeEdgeJobs(jobs, nodes, new Map(), { ...DEFAULT_EDGE_PLACEMENT_LIMITS, nodesMax: 2 })).toThrow(/nodesMax/);
  });
});

describe("edge job settings", () => {
  it("round-trips every kind and refuses bad settings with a reason", () => {
    for (const [id, spec] of [["agg-1", "aggregate;w=10000;ch=temperature,humidity"], ["rules-1", "rules;ch=temperature;gt=30;act=act-1:1"], ["relay-1", "relay;c=s1,s2"]] as const) {
      const j = parseJob(id, spec);
      expect(typeof j).toBe("object");
      expect(encodeJob(j as Exclude<typeof j, string>)).toBe(spec);
    }
    expect(parseJob("Bad_Id", "aggregate;w=10000")).toMatch(/job id/);
    expect(parseJob("a", "aggregate;w=10")).toMatch(/window/);
    expect(parseJob("a", "rules;ch=t")).toMatch(/gt= or lt=/);
    expect(parseJob("a", "teleport")).toMatch(/unknown kind/);
    const got = jobsFromSettings([{ key: "children", value: "x" }, { key: "job.a", value: "aggregate;w=5000" }, { key: "job.b", value: "nope" }]);
    expect(got.jobs.map((j) => j.id)).toEqual(["a"]);
    expect(got.refused).toHaveLength(1);
    expect(() => edgeJobDef({ id: "x", spec: "rules;ch=t" })).toThrow(/gt=/);
  });

  it("device state becomes edge nodes: role, resources, presence and children by via", () => {
    const st = (id: string, role: Role, over: Partial<DeviceState> = {}): DeviceState => {
      const s = publicState(emptyDeviceState(id));
      return {
        ...s, presence: { state: "online", sinceMs: 1, source: "hello", reason: "" },
        hello: { seq: 1, atMs: 1, role, capabilities: ["relay", "aggregate"], resources: { freeHeapBytes: 50_000, flashTotalBytes: 4 << 20, flashFreeBytes: 1 << 20, cpuMhz: 240, cpuLoadCentiPct: 0 }, location: null, firmwareVersion: "t", bootCount: 1, channels: [], heartbeatIntervalMs: 1000 },
        ...over,
      };
    };
    const { nodes } = edgeNodesOf([
      st("gw", Role.ROLE_GATEWAY), st("s1", Role.ROLE_SENSOR, { via: "gw" }), st("s2", Role.ROLE_SENSOR, { via: "gw", presence: { state: "offline", sinceMs: 2, source: "status", reason: "" } }),
      st("p", Role.ROLE_PROCESSING, { presence: { state: "offline", sinceMs: 2, source: "status", reason: "" } }),
    ]);
    expect(nodes.map((n) => [n.deviceId, n.online, n.children, n.freeHeapBytes, n.flashFreeBytes])).toEqual([
      ["gw", true, ["s1"], 50_000, 1 << 20], ["p", false, [], 50_000, 1 << 20],
    ]);
  });
});
