// The pure parts of replication: the plan per data set and mode, and the
// semi-sync gate (release on mirror progress, degrade at the deadline,
// recover once the mirror caught up), with explicit time.
import { describe, expect, it } from "vitest";
import {
  DataSet, defaultReplication, modeFromDescription, planReplication, replicationDescription, replicationProblem, ReplicationMode, SemiSyncGate, type GateOutcome,
} from "../../../cloud/replication";
import { parseIngestConfig } from "../../../cloud/ingest";

describe("replication plans", () => {
  it("sync is R=n, async and semi-sync an R1 primary and a mirror, a single server is single", () => {
    expect(planReplication(DataSet.DeviceState, ReplicationMode.Sync, 3)).toMatchObject({ effective: "sync", primaryReplicas: 3, mirror: false });
    expect(planReplication(DataSet.History, ReplicationMode.SemiSync, 3)).toMatchObject({ effective: "semi-sync", primaryReplicas: 1, mirror: true });
    expect(planReplication(DataSet.Analytics, ReplicationMode.Async, 3)).toMatchObject({ effective: "async", primaryReplicas: 1, mirror: true });
    expect(planReplication(DataSet.History, ReplicationMode.SemiSync, 1)).toMatchObject({ effective: "single", primaryReplicas: 1, mirror: false });
    for (const [set, mode] of Object.entries(defaultReplication)) expect(() => planReplication(set as DataSet, mode, 3)).not.toThrow();
  });

  it("KV data sets and the uplinks refuse anything but sync, with the reason", () => {
    expect(() => planReplication(DataSet.DeviceState, ReplicationMode.Async, 3)).toThrow(/compare-and-set/);
    expect(() => planReplication(DataSet.Uplinks, ReplicationMode.SemiSync, 3)).toThrow(/PUBACK/);
    expect(replicationProblem("x", DataSet.History, "quorum")).toMatch(/expected one of sync, semi-sync, async/);
    expect(() => parseIngestConfig({ historyReplication: "eventual" } as never)).toThrow(/ingest.historyReplication/);
    expect(parseIngestConfig({ historyReplication: "sync", outReplication: "semi-sync" })).toMatchObject({ historyReplication: "sync", outReplication: "semi-sync" });
  });

  it("the mode round-trips through the stream description", () => {
    const p = planReplication(DataSet.History, ReplicationMode.SemiSync, 3);
    expect(modeFromDescription(replicationDescription(p))).toBe("semi-sync");
    expect(modeFromDescription("something else")).toBeNull();
  });
});

describe("semi-sync gate", () => {
  function collect(): { outcomes: GateOutcome[]; release: (o: GateOutcome) => void } {
    const outcomes: GateOutcome[] = [];
    return { outcomes, release: (o) => outcomes.push(o) };
  }

  it("releases a write once the mirror holds its seq, not before", () => {
    const g = new SemiSyncGate(1000);
    const a = collect();
    g.acked(1, 0, a.release);
    g.acked(2, 0, a.release);
    g.tick(999);
    expect(a.outcomes).toEqual([]);
    g.mirrored(1);
    expect(a.outcomes).toEqual(["replicated"]);
    g.mirrored(2);
    expect(a.outcomes).toEqual(["replicated", "replicated"]);
    // Already mirrored: released at once.
    g.acked(2, 5, a.release);
    expect(a.outcomes.length).toBe(3);
    expect(g.stats).toMatchObject({ replicated: 3, unreplicated: 0, degradations: 0 });
  });

  it("degrades at the deadline (counted once), writes pass unreplicated while degraded, and recovers when the mirror caught up", () => {
    const g = new SemiSyncGate(100);
    const a = collect();
    g.acked(1, 0, a.release);
    g.acked(2, 50, a.release);
    g.tick(100);
    expect(a.outcomes).toEqual(["degraded", "degraded"]);
    expect(g.degraded).toBe(true);
    g.acked(3, 120, a.release);
    expect(a.outcomes[2]).toBe("degraded");
    g.tick(500);
    expect(g.stats.degradations).toBe(1);
    // The mark is the highest seq acked when it degraded (2): the mirror reaching it ends the degradation.
    g.mirrored(2);
    expect(g.degraded).toBe(false);
    expect(g.stats.recoveries).toBe(1);
    g.acked(4, 600, a.release);
    expect(a.outcomes.length).toBe(3);
    g.mirrored(4);
    expect(a.outcomes[3]).toBe("replicated");
    expect(g.stats).toMatchObject({ replicated: 1, unreplicated: 3, degradations: 1, recoveries: 1 });
  });
});
