// The edge cores on the real XS engine: the star scenario (gateway runtime
// and core, children over faulty in-memory links, lossy broker path,
// partition, upstream cut, a killed child) routes byte-identical messages
// on XS and on Node with the same end states; the mesh scenario (16 peers,
// loss, partition, heal) converges in the same round to the same values;
// the failover scenario (two gateways, the first killed) ends the same; the
// edge-jobs scenario (aggregate and rules jobs on a processing node, an
// upstream cut) sends the same windows and local commands.
import { describe, expect, it } from "vitest";
import { runManyOnXs } from "../harness/xs";
import run, { type EdgeInput } from "./entries/edge";
import type { StarScenarioResult } from "../../firmware/sim/star-scenario";
import type { MeshScenarioResult } from "../../firmware/sim/mesh-scenario";
import type { FailoverScenarioResult } from "../../firmware/sim/failover-scenario";
import type { EdgeJobsScenarioResult } from "../../firmware/sim/edge-jobs-scenario";

describe("edge cores on XS", () => {
  // Smaller than the Node simulations: xsnap meters computation per run.
  const star: EdgeInput = { kind: "star", seed: 3, children: 4, phaseMs: 5_000, linkLossRate: 0.02, linkDelayMs: 3, linkJitterMs: 15 };
  const mesh: EdgeInput = { kind: "mesh", seed: 2, peers: 16, lossRate: 0.2, gossipIntervalMs: 200, partitionRounds: 10, roundsMax: 100 };
  const starOnXs = runManyOnXs<StarScenarioResult>("test/xs/entries/edge.ts", [star]);
  const meshOnXs = runManyOnXs<MeshScenarioResult>("test/xs/entries/edge.ts", [mesh]);
  const failover: EdgeInput = { kind: "failover", seed: 1, children: 3, phaseMs: 5_000, linkLossRate: 0.01, linkDelayMs: 3, linkJitterMs: 10 };
  const failoverOnXs = runManyOnXs<FailoverScenarioResult>("test/xs/entries/edge.ts", [failover]);
  const jobs: EdgeInput = { kind: "jobs", seed: 2, children: 2, phaseMs: 10_000, windowMs: 5_000, linkLossRate: 0.02, linkDelayMs: 5, threshold: 22 };
  const jobsOnXs = runManyOnXs<EdgeJobsScenarioResult>("test/xs/entries/edge.ts", [jobs]);

  it("a gateway with 4 children relays byte-identical messages on XS and on Node", async () => {
    const node = run(star) as StarScenarioResult;
    const xs = (await starOnXs)[0]!.result;
    expect(node.trace.length).toBeGreaterThan(50);
    expect(node.gateway.forwarded).toBeGreaterThan(30);
    expect(xs.trace).toEqual(node.trace);
    expect(xs.gateway).toEqual(node.gateway);
    expect(xs.network).toEqual(node.network);
    expect(xs.children).toEqual(node.children);
    expect(xs.killedStatus).toEqual(node.killedStatus);
  }, 120_000);

  it("16 mesh peers converge identically on XS and on Node", async () => {
    const node = run(mesh) as MeshScenarioResult;
    const xs = (await meshOnXs)[0]!.result;
    expect(node.convergedAfterRounds).toBeGreaterThan(0);
    expect(xs).toEqual(node);
  }, 120_000);

  it("children fail over from a killed gateway to the second identically on XS and on Node", async () => {
    const node = run(failover) as FailoverScenarioResult;
    const xs = (await failoverOnXs)[0]!.result;
    expect(node.killedWill).toBe(true);
    for (const c of node.children) expect(c.routesAfterKill).toEqual(["gw-b"]);
    expect(xs).toEqual(node);
  }, 120_000);

  it("a processing node's aggregate and rules jobs send byte-identical windows and act identically on XS and on Node", async () => {
    const node = run(jobs) as EdgeJobsScenarioResult;
    const xs = (await jobsOnXs)[0]!.result;
    expect(node.work.windowsSent).toBeGreaterThan(4);
    expect(node.gateway.localCommandsSent).toBeGreaterThan(0);
    expect(xs).toEqual(node);
  }, 120_000);
});
