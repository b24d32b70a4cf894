// Mesh peers under simulated time (docs/edge.md): n MeshNodes on the
// in-memory LAN with seeded datagram loss and delay, each incrementing its
// share of two counters, a partition into two halves that keep counting on
// their own, then heal. Returns the rounds until every peer held the same
// state, and the final values against the sum of all increments. With
// `reporters` > 0, that many peers also run the device runtime on the
// in-memory broker and send the merged counters in their CounterState; the
// reports are merged as the cloud must (CRDT merge across reporters, never
// a sum). Runs on Node and XS alike (test/xs/edge.xs.test.ts).
import { PNCounter } from "../../shared/crdt/pncounter";
import { CounterKind, decodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { Uplink, parseDeviceAddress } from "../../shared/topics";
import { DeviceRuntime } from "../device/runtime";
import { MeshNode, meshCounterPrefix } from "../edge/mesh-node";
import { MemoryNetwork } from "./memory-links";
import { SeededRandom } from "./sim-clock";
import { fixedResources, silentLog, type Platform } from "../platform";
import { MemoryStorage } from "./memory-storage";
import { createSimWorld } from "./sim-platform";

export interface MeshScenarioInput {
  seed: number;
  peers: number;
  lossRate: number;
  gossipIntervalMs: number;
  fanout?: number;
  /** Gossip rounds the partition lasts (0: none). */
  partitionRounds: number;
  roundsMax: number;
  /** Peers that also reach the cloud and report the merged counters (default 0). */
  reporters?: number;
}

export interface MeshScenarioResult {
  /** Rounds from the heal (or start) until all peers agreed; -1 if they did not within roundsMax. */
  convergedAfterRounds: number;
  /** While partitioned: each half agreed within itself (and the halves differed). */
  halvesConvergedApart: boolean;
  expected: { events: number; level: number };
  values: Array<{ events: number; level: number }>;
  bytesSent: number;
  datagramsLost: number;
  bad: number;
  /** Each reporter's last report (values of the mesh counters it sent). */
  reports: Array<{ from: string; events: number; level: number }>;
  /** The reports merged as CRDT states (what the cloud must hold). */
  merged: { events: number; level: number };
}

export function runMeshScenario(input: MeshScenarioInput): MeshScenarioResult {
  const world = createSimWorld({ wallBaseMs: 1_700_000_000_000, cloud: false });
  const clock = world.clock;
  const net = new MemoryNetwork(clock, new SeededRandom(input.seed ^ 0x3e5));
  net.setFaults({ lossRate: input.lossRate, delayMs: 2, jitterMs: Math.max(1, Math.floor(input.gossipIntervalMs / 4)) });
  const port = 7400;
  const hosts = Array.from({ length: input.peers }, (_, i) => `peer-${i}`);
  const nodes = hosts.map((h, i) => {
    const platform: Platform = {
      timers: clock, clock, storage: new MemoryStorage(), random: new SeededRandom(input.seed * 977 + i), log: silentLog, resources: fixedResources(),
      mqttConnect: () => { throw new Error("no broker in a mesh scenario"); },
      datagrams: net.host(h).datagrams,
    };
    const peers = hosts.filter((x) => x !== h).map((x) => `${x}:${port}`);
    return new MeshNode(platform, { id: h, peers, port, gossipIntervalMs: input.gossipIntervalMs, ...(input.fanout !== undefined ? { fanout: input.fanout } : {}) });
  });
  const expected = { events: 0, level: 0 };
  const count = (i: number, k: number): void => {
    const by = 1 + ((i * 7 + k) % 5);
    nodes[i]!.peer.add("events", by);
    expected.events += by;
    const d = (i + k) % 3 === 0 ? -1 : 2;
    nodes[i]!.peer.add("level", d);
    expected.level += d;
  };
  nodes.forEach((_, i) => count(i, 0));
  for (const n of nodes) n.start();
  const round = (): void => clock.advance(input.gossipIntervalMs);
  const agreed = (group: readonly MeshNode[]): boolean => group.every((n) => n.peer.fingerprint() === group[0]!.peer.fingerprint());

  let halvesConvergedApart = true;
  if (input.partitionRounds > 0) {
    const half = Math.floor(input.peers / 2);
    net.partition([hosts.slice(0, half)]);
    for (let r = 0; r < input.partitionRounds; r++) {
      if (r === 1) nodes.forEach((_, i) => count(i, 1)); // both sides keep counting
      round();
    }
    const a = nodes.slice(0, half);
    const b = nodes.slice(half);
    halvesConvergedApart = agreed(a) && agreed(b) && a[0]!.peer.fingerprint() !== b[0]!.peer.fingerprint();
    net.heal();
  }
  let convergedAfterRounds = -1;
  for (let r = 1; r <= input.roundsMax; r++) {
    round();
    if (agreed(nodes)) {
      convergedAfterRounds = r;
      break;
    }
  }
  // Reporters reach the cloud and send their merged counters (twice: a repeat changes nothing).
  const reporters = nodes.slice(0, input.reporters ?? 0).map((n, i) => {
    const p: Platform = {
      timers: clock, clock, storage: new MemoryStorage(), random: new SeededRandom(input.seed + 5000 + i), log: silentLog, resources: fixedResources(),
      mqttConnect: world.broker.connect,
    };
    const rt = new DeviceRuntime(p, { deviceId: hosts[i]!, role: "actuator", brokerUrls: ["mqtt://sim:1883"], extraCounters: () => n.counterState() });
    rt.start();
    return rt;
  });
  if (reporters.length > 0) {
    clock.advance(500);
    for (const rt of reporters) rt.publishCounters();
    clock.advance(500);
  }
  const reports: MeshScenarioResult["reports"] = [];
  const merged = new Map<string, PNCounter>();
  for (const m of world.broker.log) {
    const a = parseDeviceAddress(m.topic);
    if (a === null || a.kind !== Uplink.Counters) continue;
    const st = decodeEnvelope(m.payload).counters;
    if (st === undefined) continue;
    const r = { from: a.deviceId, events: 0, level: 0 };
    for (const c of st.counters) {
      if (c.kind !== CounterKind.COUNTER_KIND_PN || c.name.indexOf(meshCounterPrefix) !== 0) continue;
      const name = c.name.slice(meshCounterPrefix.length);
      const counter = PNCounter.decode(c.state, { replicasMax: 128 });
      if (name === "events" || name === "level") r[name] = counter.value();
      const held = merged.get(name);
      if (held === undefined) merged.set(name, counter);
      else held.merge(counter);
    }
    reports.push(r);
  }
  for (const rt of reporters) rt.stop();
  for (const n of nodes) n.stop();
  let bytesSent = 0;
  let bad = 0;
  for (const n of nodes) {
    bytesSent += n.peer.stats.bytesSent;
    bad += n.peer.stats.bad;
  }
  return {
    convergedAfterRounds, halvesConvergedApart, expected,
    values: nodes.map((n) => ({ events: n.peer.value("events"), level: n.peer.value("level") })),
    bytesSent, datagramsLost: net.stats.datagramsLost, bad,
    reports, merged: { events: merged.get("events")?.value() ?? 0, level: merged.get("level")?.value() ?? 0 },
  };
}
