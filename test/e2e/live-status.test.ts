import { describe, expect, it } from "vitest";
import { RateMeter, fmtRate, processSummary, statusLine } from "../../cloud/cli/live-status";
import { singletonHolders } from "../../cloud/cli/fleet-probe";
import type { ProcessSnapshot } from "../../cloud/cli/cloud-processes";

describe("live status rates", () => {
  it("averages a counter's growth over the sliding window", () => {
    const m = new RateMeter(5_000);
    expect(m.rate("x", 0, 0)).toBe(0);
    expect(m.rate("x", 100, 1_000)).toBe(100);
    expect(m.rate("x", 100, 2_000)).toBe(50);
    for (let t = 3_000; t <= 10_000; t += 1_000) m.rate("x", 100, t);
    expect(m.rate("x", 600, 11_000)).toBeCloseTo(100, 5);
  });
  it("formats large rates compactly", () => {
    expect(fmtRate(1_234_567)).toBe("1.23M");
    expect(fmtRate(12_345)).toBe("12.3k");
    expect(fmtRate(42.25)).toBe("42.3");
  });
});

describe("status line", () => {
  const proc = (name: string, state: ProcessSnapshot["state"], lastExit: string | null = null): ProcessSnapshot => ({
    name, kind: "cloud node", state, pid: state === "running" ? 1 : null, restarts: lastExit ? 1 : 0,
    lastExit: lastExit ? { text: lastExit, atMs: 0 } : null, logFile: `/logs/${name}.log`,
  });
  const base = {
    devicesOnline: 35, devicesKnown: 36, fleet: { connected: 36, devices: 36 }, batchesPerSec: 10.2, pointsPerSec: 326,
    consumerLag: 0, deadLetters: 0, members: { up: 3, suspect: 0, down: 0 }, singletons: [],
  };

  it("counts processes from how they ended, and names the dead ones with their signal", () => {
    const line = statusLine({
      ...base,
      cloud: [proc("cloud-1", "running"), proc("cloud-2", "restarting", "killed by SIGKILL"), proc("cloud-3", "running", "exited with code 1")],
      control: [proc("control-1", "running"), proc("control-2", "failed", "exited with code 1"), proc("control-3", "running")],
    });
    expect(line).toBe("devices 35/36 online (36/36 connected) | 10.2 batches/s | 326 points/s | lag 0 | dead letters 0" +
      " | cloud 2/3 up (cloud-2 killed by SIGKILL, restarting) | raft 2/3 (control-2 exited with code 1, not restarted) | members 3 up");
  });

  it("shows how many messages the devices still hold for a receipt", () => {
    expect(statusLine({ ...base, fleet: { connected: 36, devices: 36, outboxDepth: 12 }, cloud: [], control: [] }))
      .toMatch(/^devices 35\/36 online \(36\/36 connected, 12 awaiting receipt\) \|/);
    expect(statusLine({ ...base, fleet: { connected: 36, devices: 36, outboxDepth: 0 }, cloud: [], control: [] }))
      .toMatch(/^devices 35\/36 online \(36\/36 connected\) \|/);
  });

  it("shows the edge jobs the orchestrator placed, and how many it could not", () => {
    expect(statusLine({ ...base, edgeJobs: { placed: 2, jobs: 2 }, cloud: [], control: [] })).toMatch(/ \| edge jobs 2 placed \| /);
    expect(statusLine({ ...base, edgeJobs: { placed: 1, jobs: 2 }, cloud: [], control: [] })).toMatch(/edge jobs 1 placed \(1 unplaced\)/);
    expect(statusLine({ ...base, edgeJobs: null, cloud: [], control: [] })).not.toMatch(/edge jobs/);
  });

  it("shows the CASPaxos acceptors apart from the Raft replicas", () => {
    const acceptor = (name: string, state: ProcessSnapshot["state"], lastExit: string | null = null): ProcessSnapshot => ({ ...proc(name, state, lastExit), kind: "paxos acceptor" });
    const line = statusLine({
      ...base,
      cloud: [proc("cloud-1", "running")],
      control: [proc("control-1", "running"), acceptor("paxos-1", "running"), acceptor("paxos-2", "restarting", "killed by SIGKILL"), acceptor("paxos-3", "running")],
    });
    expect(line).toMatch(/ \| cloud 1\/1 up \| raft 1\/1 \| members 3 up \| paxos 2\/3 \(paxos-2 killed by SIGKILL, restarting\)$/);
    expect(statusLine({ ...base, cloud: [], control: [acceptor("paxos-1", "running")] })).toMatch(/cloud 0\/0 up \| members 3 up \| paxos 1\/1$/);
  });

  it("shows the cache ring's hit rate, nodes and entries", () => {
    expect(statusLine({ ...base, fleet: null, members: null, cloud: [proc("cloud-1", "running")], control: [], cache: { nodes: 3, hitRate: 0.934, entries: 120 } }))
      .toBe("devices 35/36 online | 10.2 batches/s | 326 points/s | lag 0 | dead letters 0 | cloud 1/1 up | cache 93% hits (3 nodes, 120 entries)");
    expect(statusLine({ ...base, fleet: null, members: null, cloud: [], control: [], cache: { nodes: 2, hitRate: null, entries: 0 } }))
      .toMatch(/ \| cache no reads yet \(2 nodes, 0 entries\)$/);
  });

  it("is short when everything runs, and leaves out what `up` does not run", () => {
    expect(statusLine({ ...base, fleet: null, members: null, cloud: [proc("cloud-1", "running")], control: [] }))
      .toBe("devices 35/36 online | 10.2 batches/s | 326 points/s | lag 0 | dead letters 0 | cloud 1/1 up");
    expect(processSummary("cloud", [proc("cloud-1", "stopping", "killed by SIGKILL")], " up")).toBe("cloud 0/1 up (cloud-1 stopping)");
  });

  it("names the node holding each singleton; a dead node's stale claim does not count", () => {
    const singletons = singletonHolders([
      { nodeId: "cloud-1", status: "down", leases: ["singleton/backup", "recovery/coordinator"] },
      { nodeId: "cloud-2", status: "up", leases: ["singleton/backup"] },
      { nodeId: "cloud-3", status: "up", leases: ["singleton/control-sweep"] },
    ]);
    expect(singletons).toEqual([
      { lease: "singleton/backup", nodeId: "cloud-2" }, { lease: "singleton/control-sweep", nodeId: "cloud-3" },
    ]);
    expect(statusLine({ ...base, fleet: null, cloud: [proc("cloud-2", "running")], control: [], singletons }))
      .toBe("devices 35/36 online | 10.2 batches/s | 326 points/s | lag 0 | dead letters 0 | cloud 1/1 up | members 3 up | backup@cloud-2 control-sweep@cloud-3");
  });
});
