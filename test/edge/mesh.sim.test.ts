// Mesh anti-entropy under seeded faults (firmware/sim/mesh-scenario.ts):
// 16 peers, 20 % datagram loss, a partition into halves that keep counting
// on their own, then heal: every peer converges to the sum of all
// increments (never double counted), and a datagram that does not decode is
// dropped and counted.
import { describe, expect, it } from "vitest";
import { runMeshScenario } from "../../firmware/sim/mesh-scenario";
import { MeshMessage, MeshPeer, encodeParts, meshDatagramBytesMax } from "../../firmware/edge/mesh";
import { SeededRandom } from "../../firmware/sim/sim-clock";

describe("mesh: 16 peers, 20 % loss, partition and heal", () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: halves converge apart, then all converge to the exact sums`, () => {
      const r = runMeshScenario({ seed, peers: 16, lossRate: 0.2, gossipIntervalMs: 200, partitionRounds: 25, roundsMax: 100 });
      expect(r.datagramsLost).toBeGreaterThan(0);
      expect(r.halvesConvergedApart).toBe(true);
      expect(r.convergedAfterRounds).toBeGreaterThan(0);
      for (const v of r.values) expect(v).toEqual(r.expected);
      expect(r.bad).toBe(0);
    });
  }
});

describe("mesh peer", () => {
  it("drops and counts datagrams that do not decode, and never double counts a repeated delta", () => {
    const random = new SeededRandom(5);
    const a = new MeshPeer({ id: "a", peers: ["b:1"], random });
    const b = new MeshPeer({ id: "b", peers: ["a:1"], random });
    a.add("events", 5);
    b.add("events", 3);
    expect(b.receive("a:1", new Uint8Array([9, 1, 2]))).toEqual([]);
    expect(b.receive("a:1", new Uint8Array([MeshMessage.State, 1, 200]))).toEqual([]);
    expect(b.stats.bad).toBe(2);
    // A replica named twice in one datagram is merged as a max, never summed.
    const c = new MeshPeer({ id: "c", peers: [], random });
    for (const d of encodeParts(MeshMessage.Delta, [{ name: "events", p: [{ replica: "x", count: 5 }, { replica: "x", count: 5 }], n: [] }])) c.receive("x:1", d);
    expect(c.value("events")).toBe(5);
    // Full exchange: digest -> state -> delta.
    const [digest] = a.round();
    const state = b.receive("a:1", digest!.bytes);
    expect(state).toHaveLength(1);
    const delta = a.receive("b:1", state[0]!.bytes);
    expect(a.value("events")).toBe(8);
    expect(delta).toHaveLength(1);
    b.receive("a:1", delta[0]!.bytes);
    b.receive("a:1", delta[0]!.bytes); // a duplicate changes nothing
    expect(b.value("events")).toBe(8);
    expect(a.fingerprint()).toBe(b.fingerprint());
    // Converged: digests get no answer.
    const [again] = a.round();
    expect(b.receive("a:1", again!.bytes)).toEqual([]);
  });

  it("splits a state larger than one datagram; the parts merge to the whole", () => {
    const random = new SeededRandom(7);
    const src = new MeshPeer({ id: "src", peers: [], random });
    const big = new MeshPeer({ id: "big", peers: [], random });
    const dst = new MeshPeer({ id: "dst", peers: [], random });
    // 100 replicas with long ids: well over one datagram.
    for (let i = 0; i < 100; i++) {
      const p = new MeshPeer({ id: `replica-with-a-long-name-${i}`, peers: [], random });
      p.add("events", i + 1);
      const parts = encodeParts(MeshMessage.Delta, [{ name: "events", p: [{ replica: p.id, count: i + 1 }], n: [] }]);
      big.receive("x:1", parts[0]!);
    }
    expect(big.value("events")).toBe(5050);
    const c = big.counters().get("events")!;
    const entries = [...c.p.counts.entries()].map(([replica, count]) => ({ replica, count }));
    const datagrams = encodeParts(MeshMessage.Delta, [{ name: "events", p: entries, n: [] }]);
    expect(datagrams.length).toBeGreaterThan(1);
    for (const d of datagrams) {
      expect(d.length).toBeLessThanOrEqual(meshDatagramBytesMax);
      dst.receive("x:1", d);
    }
    expect(dst.value("events")).toBe(5050);
    expect(src.value("events")).toBe(0);
  });
});

describe("mesh: peers that reach the cloud", () => {
  it("report the merged counters; merged across reporters they equal the sum of increments, never double counted", () => {
    const r = runMeshScenario({ seed: 11, peers: 16, lossRate: 0.2, gossipIntervalMs: 200, partitionRounds: 10, roundsMax: 100, reporters: 3 });
    expect(r.convergedAfterRounds).toBeGreaterThan(0);
    // Each reporter sent the whole mesh's count (on connect and once more).
    expect(new Set(r.reports.map((x) => x.from))).toEqual(new Set(["peer-0", "peer-1", "peer-2"]));
    for (const rep of r.reports) expect({ events: rep.events, level: rep.level }).toEqual(r.expected);
    expect(r.merged).toEqual(r.expected);
    // Summing the reports instead would count the same increments once per report.
    expect(r.reports.reduce((n, x) => n + x.events, 0)).toBe(r.expected.events * r.reports.length);
  });
});
