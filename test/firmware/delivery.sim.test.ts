// Seeded simulation of end-to-end delivery: three devices (two sensors, one
// actuator answering commands) on an in-memory broker that loses uplinks
// after the PUBACK, duplicates them and loses downlinks (receipts,
// commands), with random disconnects, broker outages and power cuts, against
// the cloud stand-in (dedup by epoch and seq, receipts, a few messages
// dead-lettered). Checked at every simulated second and at the end:
// - every message a device forgot as confirmed was recorded by the cloud
//   exactly once, with the bytes the device sent; every one it forgot as
//   rejected was dead-lettered and not recorded;
// - every message a device published and has not forgotten is still in its
//   outbox (storage), and nothing was dropped;
// - after the faults heal, every outbox message ever made is forgotten, so
//   every telemetry batch reached the cloud exactly once.
// A failure names its seed; rerun one with SEED=<n>.
import { describe, expect, it } from "vitest";
import { DeviceRuntime } from "../../firmware/device/runtime";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { ReplaySource, roomClimateChannels, type TraceRow } from "../../firmware/sim/replay-source";
import { SeededRandom } from "../../firmware/sim/sim-clock";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../firmware/sim/sim-platform";
import { fnv1a32 } from "../../shared/crdt/wire";
import { createCommand, createEnvelope, decodeEnvelope, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceTopic } from "../../shared/topics";

const stepMs = 100;
const runMs = 60_000;

interface Tracked {
  id: string;
  actuator: boolean;
  storage: MemoryStorage;
  rt: DeviceRuntime;
  boots: number;
  epoch: number;
  /** Outbox messages (tele, ack) published at least once. */
  published: Set<number>;
  confirmed: Set<number>;
  rejected: Set<number>;
  /** Batches made, over all boots. */
  batches: number;
}

function rows(n: number, offset: number): TraceRow[] {
  return Array.from({ length: n }, (_, i) => ({ timeMs: 1_458_031_648_545 + i * 1_000, values: [20 + ((i + offset) % 9) * 0.01, 40, 180, 500] }));
}

function boot(world: SimWorld, d: Tracked, seed: number): void {
  const sensor = d.actuator ? undefined : new ReplaySource(roomClimateChannels, rows(300, d.boots), { startMs: world.clock.wallMs(), speedup: 10, loop: true });
  d.boots++;
  d.rt = new DeviceRuntime(createSimPlatform(world, { seed: seed * 100 + d.boots, storage: d.storage, ...(sensor ? { sensor } : {}) }), {
    deviceId: d.id, role: d.actuator ? "actuator" : "sensor", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 2_000,
    sampleIntervalMs: 100, batchPointsMax: 4, backoff: { baseMs: 100, capMs: 2_000 }, connectTimeoutMs: 1_000, seqBlock: 8,
    outbox: { messagesMax: 512, bytesMax: 256 * 1024, inflightMax: 4, receiptTimeoutMs: 500, receiptTimeoutCapMs: 4_000 },
  }, (e) => {
    if (e.type === "published" && (e.kind === "tele" || e.kind === "ack")) d.published.add(e.seq);
    else if (e.type === "confirmed") d.confirmed.add(e.seq);
    else if (e.type === "rejected") d.rejected.add(e.seq);
  });
  d.rt.start();
  d.epoch = d.rt.stats().epoch;
}

function storedIds(storage: MemoryStorage): Set<number> {
  return new Set(storage.keys("o").map((k) => parseInt(k.slice(1), 36)));
}

/** Hash of the bytes each (device, seq) was sent with (read on from `seen.from`); throws when one seq went out with two contents. */
function sentHashes(world: SimWorld, seen: { from: number; out: Map<string, number> }): Map<string, number> {
  const out = seen.out;
  const log = world.broker.log;
  for (; seen.from < log.length; seen.from++) {
    const m = log[seen.from]!;
    if (m.from === "" || !(m.topic.endsWith("/tele") || m.topic.endsWith("/ack"))) continue;
    const key = `${m.from}/${decodeEnvelope(m.payload).seq}`;
    const h = fnv1a32(m.payload);
    const prev = out.get(key);
    if (prev !== undefined && prev !== h) throw new Error(`${key} was sent with two different contents`);
    out.set(key, h);
  }
  return out;
}

function check(world: SimWorld, devices: Tracked[], seen: { from: number; out: Map<string, number> }, final: boolean): void {
  const cloud = world.cloud!;
  const hashes = sentHashes(world, seen);
  for (const d of devices) {
    const held = storedIds(d.storage);
    expect(d.rt.stats().dropped, `${d.id} dropped`).toBe(0);
    for (const seq of d.confirmed) {
      const r = cloud.record(d.id, d.epoch, seq);
      expect(r, `${d.id} forgot ${seq} as confirmed, the cloud has no record`).toBeDefined();
      expect([r!.applied, r!.rejected, r!.conflicts], `${d.id} ${seq}`).toEqual([1, 0, 0]);
      expect(r!.hash, `${d.id} ${seq} bytes`).toBe(hashes.get(`${d.id}/${seq}`));
      expect(held.has(seq)).toBe(false);
    }
    for (const seq of d.rejected) {
      const r = cloud.record(d.id, d.epoch, seq);
      expect([r?.applied, r?.rejected], `${d.id} forgot ${seq} as rejected`).toEqual([0, 1]);
      expect(d.confirmed.has(seq)).toBe(false);
    }
    for (const seq of d.published) {
      if (d.confirmed.has(seq) || d.rejected.has(seq)) continue;
      expect(held.has(seq), `${d.id} published ${seq}, never forgot it, but it is not in the outbox`).toBe(true);
    }
    if (final) {
      expect(held.size, `${d.id} outbox after healing`).toBe(0);
      const forgotten = d.confirmed.size + d.rejected.size;
      expect(forgotten, `${d.id}: every outbox message forgotten`).toBe(d.published.size);
    }
  }
  if (!final) return;
  for (const [key, r] of cloud.records()) {
    if (r.applied + r.rejected !== 1 || r.conflicts !== 0) throw new Error(`cloud record ${key}: ${JSON.stringify(r)}`);
  }
}

function simulate(seed: number): { world: SimWorld; devices: Tracked[]; seen: { from: number; out: Map<string, number> } } {
  const rng = new SeededRandom(seed);
  const chance = (p: number): boolean => rng.u32() / 4294967296 < p;
  const world = createSimWorld({ cloud: { random: new SeededRandom(seed ^ 0xc10d), rejectRate: 0.03 } });
  world.broker.setFaults({ uplinkLossRate: 0.1, uplinkDuplicateRate: 0.1, downlinkLossRate: 0.2 }, new SeededRandom(seed ^ 0xfa17));
  const devices: Tracked[] = ["sim-a", "sim-b", "sim-act"].map((id) => ({
    id, actuator: id === "sim-act", storage: new MemoryStorage(), rt: undefined as unknown as DeviceRuntime, boots: 0, epoch: 0,
    published: new Set<number>(), confirmed: new Set<number>(), rejected: new Set<number>(), batches: 0,
  }));
  for (const d of devices) boot(world, d, seed);
  const seen = { from: 0, out: new Map<string, number>() };
  let outageLeft = 0;
  let commandNo = 0;
  for (let t = 0; t < runMs; t += stepMs) {
    if (outageLeft > 0 && --outageLeft === 0) world.broker.setAvailable(true);
    else if (outageLeft === 0 && chance(0.004)) {
      world.broker.setAvailable(false);
      outageLeft = 20 + (rng.u32() % 80);
    }
    for (const d of devices) {
      if (chance(0.008)) world.broker.dropClient(d.id);
      if (chance(0.004)) {
        d.batches += d.rt.stats().batches;
        d.rt.crash();
        d.storage = d.storage.clone(); // what the flash kept
        boot(world, d, seed);
      }
    }
    if (chance(0.05)) {
      const act = devices[2]!;
      const n = chance(0.3) && commandNo > 0 ? commandNo : ++commandNo; // some repeats: duplicate acks
      world.broker.publish(deviceTopic(act.id, Downlink.Command), encodeEnvelope(createEnvelope({
        schemaVersion, deviceId: act.id, seq: n, command: createCommand({ commandId: `c${n}`, name: "ping" }),
      })));
    }
    world.clock.advance(stepMs);
    if (t % 1_000 === 0) check(world, devices, seen, false);
  }
  // Heal: no faults, broker up; the outboxes drain.
  world.broker.setFaults({}, rng);
  world.broker.setAvailable(true);
  for (let t = 0; t < 60_000 && devices.some((d) => d.rt.stats().outboxDepth > 0); t += stepMs) world.clock.advance(stepMs);
  for (const d of devices) d.batches += d.rt.stats().batches;
  return { world, devices, seen };
}

const seeds = process.env.SEED !== undefined ? [Number(process.env.SEED)] : [1, 2, 3, 4];

describe("end-to-end delivery under faults (seeded simulation)", () => {
  it.each(seeds)("seed %i: confirmed means recorded once, unconfirmed means still held, nothing lost", (seed) => {
    const { world, devices, seen } = simulate(seed);
    check(world, devices, seen, true);
    const cloud = world.cloud!.stats;
    // The faults happened (otherwise the run proves little).
    expect(cloud.duplicates).toBeGreaterThan(0);
    expect(cloud.deadLettered).toBeGreaterThan(0);
    let retransmits = 0;
    for (const d of devices) {
      retransmits += d.rt.stats().retransmits;
      expect(d.confirmed.size).toBeGreaterThan(d.actuator ? 3 : 10); // the actuator only acks commands (5 % of steps, some lost)
    }
    expect(retransmits).toBeGreaterThan(0);
    expect(devices.reduce((n, d) => n + d.boots, 0)).toBeGreaterThan(3);
    // Every telemetry batch a sensor made reached the cloud exactly once (or was dead-lettered).
    for (const d of devices.filter((x) => !x.actuator)) {
      expect(d.batches).toBeGreaterThan(20);
      expect(d.published.size, `${d.id}: batches published vs made`).toBe(d.batches);
    }
  });
});
