// End-to-end confirmation in the device runtime under simulated time: epoch
// and settled_below on every envelope, messages kept until a receipt names
// them, resends on receipt timeouts with backoff and after a reconnect,
// receipts for another epoch or out of bounds refused (counted, never a
// crash), oversized messages refused, and the upgrade from firmware without
// epochs.
import { describe, expect, it } from "vitest";
import { DeviceRuntime, type RuntimeEvent } from "../../firmware/device/runtime";
import type { DeviceOptionsInit } from "../../firmware/device/options";
import { MessageClass, Outbox, outboxDefaults } from "../../firmware/device/outbox";
import { PersistentSequence } from "../../firmware/device/sequence";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { ReplaySource, roomClimateChannels, type TraceRow } from "../../firmware/sim/replay-source";
import { SeededRandom } from "../../firmware/sim/sim-clock";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../firmware/sim/sim-platform";
import { receiptRangesMax, receiptSpanMax } from "../../shared/proto/limits";
import {
  createCommand,
  createCommandAck,
  createEnvelope,
  createReceipt,
  createSeqRange,
  decodeEnvelope,
  encodeEnvelope,
  schemaVersion,
  type Envelope,
} from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceTopic } from "../../shared/topics";

const id = "rc-1";

function rows(n: number): TraceRow[] {
  return Array.from({ length: n }, (_, i) => ({ timeMs: 1_458_031_648_545 + i * 1_000, values: [20 + (i % 7) * 0.01, 40, 180, 500] }));
}

interface Dev {
  rt: DeviceRuntime;
  events: Array<RuntimeEvent & { atMs: number }>;
}

function boot(world: SimWorld, storage: MemoryStorage, init: Partial<DeviceOptionsInit> = {}, seed = 1): Dev {
  const events: Dev["events"] = [];
  const sensor = init.role === "actuator" ? undefined : new ReplaySource(roomClimateChannels, rows(400), { startMs: world.clock.wallMs(), speedup: 10, loop: true });
  const rt = new DeviceRuntime(createSimPlatform(world, { seed, storage, ...(sensor ? { sensor } : {}) }), {
    deviceId: id, brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 1_000, sampleIntervalMs: 100, batchPointsMax: 5, seqBlock: 8,
    outbox: { receiptTimeoutMs: 1_000, receiptTimeoutCapMs: 4_000 }, ...init,
  }, (e) => events.push({ ...e, atMs: world.clock.uptimeMs() }));
  rt.start();
  return { rt, events };
}

function uplinks(world: SimWorld, kind?: string): Envelope[] {
  return world.broker.log.filter((m) => m.from === id && (kind === undefined || m.topic.endsWith("/" + kind))).map((m) => decodeEnvelope(m.payload));
}

function receipt(world: SimWorld, epoch: number, confirmed: Array<[number, number]>, rejected: Array<[number, number]> = []): void {
  world.broker.publish(deviceTopic(id, Downlink.Receipt), encodeEnvelope(createEnvelope({
    schemaVersion, deviceId: id, seq: 1,
    receipt: createReceipt({ epoch, confirmed: confirmed.map(([first, last]) => createSeqRange({ first, last })), rejected: rejected.map(([first, last]) => createSeqRange({ first, last })) }),
  })));
}

function command(world: SimWorld, commandId: string): void {
  world.broker.publish(deviceTopic(id, Downlink.Command), encodeEnvelope(createEnvelope({
    schemaVersion, deviceId: id, seq: 1, command: createCommand({ commandId, name: "ping" }),
  })));
}

describe("epoch and settled_below", () => {
  it("every envelope carries the epoch and a settled_below that never passes its seq or a held message", () => {
    const world = createSimWorld();
    const storage = new MemoryStorage();
    const a = boot(world, storage);
    world.clock.advance(3_000);
    world.cloud!.hold(true);
    world.clock.advance(3_000);
    const held = a.rt.stats();
    expect(held.outboxDepth).toBeGreaterThan(3);
    world.cloud!.hold(false);
    world.clock.advance(3_000);
    a.rt.crash();
    boot(world, storage.clone(), {}, 2);
    world.clock.advance(3_000);
    const envs = uplinks(world);
    const epoch = a.rt.stats().epoch;
    expect(epoch).toBeGreaterThan(0);
    let lastFresh = 0;
    const firstSeen = new Set<number>();
    for (const e of envs) {
      expect(e.epoch).toBe(epoch); // the same across the reboot: the flash kept it
      expect(e.settledBelow).toBeGreaterThanOrEqual(1);
      expect(e.settledBelow).toBeLessThanOrEqual(e.seq);
      if (firstSeen.has(e.seq)) continue; // resends carry the value of their first encoding
      firstSeen.add(e.seq);
      expect(e.settledBelow).toBeGreaterThanOrEqual(lastFresh);
      lastFresh = e.settledBelow;
    }
    // While receipts were withheld the heartbeats held settled_below at the oldest unconfirmed message.
    const heldHbs = envs.filter((e) => e.heartbeat !== undefined && e.settledBelow < e.seq);
    expect(heldHbs.length).toBeGreaterThan(0);
  });

  it("a wiped flash starts a new epoch with seqs from 1 again", () => {
    const world = createSimWorld();
    const a = boot(world, new MemoryStorage());
    world.clock.advance(1_000);
    const first = a.rt.stats();
    a.rt.crash();
    const b = boot(world, new MemoryStorage(), {}, 2);
    expect(b.rt.stats().epoch).not.toBe(first.epoch);
    expect(b.rt.stats().nextSeq).toBe(2); // seq 1 went to the will of the first connection attempt
    world.clock.advance(3_000);
    expect(world.cloud!.stats.epochChanges).toBe(1);
    expect(b.rt.stats().confirmed).toBeGreaterThan(0); // the cloud started over with the new epoch
  });
});

describe("receipts", () => {
  it("without receipts a PUBACKed message stays and is resent after uniform[w/2, w], w doubling to the cap; a receipt ends it", () => {
    const world = createSimWorld();
    world.cloud!.hold(true);
    const dev = boot(world, new MemoryStorage(), { role: "actuator", heartbeatIntervalMs: 60_000 });
    world.clock.advance(100);
    command(world, "c1"); // its ack is the only outbox message
    world.clock.advance(30_000);
    const sends = dev.events.filter((e) => e.type === "published" && e.kind === "ack");
    const seq = (sends[0] as { seq: number }).seq;
    expect(new Set(sends.map((e) => (e as { seq: number }).seq))).toEqual(new Set([seq]));
    expect(dev.events.filter((e) => e.type === "acked").length).toBe(sends.length); // every send PUBACKed, none forgotten
    for (let i = 1; i < sends.length; i++) {
      const w = Math.min(4_000, 1_000 * 2 ** (i - 1));
      const gap = sends[i]!.atMs - sends[i - 1]!.atMs - 2; // publish -> PUBACK: 2 ms of broker latency
      expect(gap).toBeGreaterThanOrEqual(w / 2);
      expect(gap).toBeLessThanOrEqual(w);
    }
    expect(sends.length).toBeGreaterThanOrEqual(8);
    expect(dev.rt.stats()).toMatchObject({ outboxDepth: 1, outboxSent: 1, confirmed: 0, retransmits: sends.length - 1 });
    world.cloud!.hold(false);
    world.clock.advance(5_000); // the next resend is recorded as a duplicate and receipted
    expect(dev.rt.stats()).toMatchObject({ outboxDepth: 0, confirmed: 1 });
    expect(dev.events.filter((e) => e.type === "confirmed").map((e) => (e as { seq: number }).seq)).toEqual([seq]);
    const after = dev.rt.stats().retransmits;
    world.clock.advance(20_000);
    expect(dev.rt.stats().retransmits).toBe(after);
    expect(dev.rt.stats().counters.rcptConfirmed).toBe(1);
  });

  it("after a reconnect every unconfirmed message goes out again at once, not after its timeout", () => {
    const world = createSimWorld();
    world.cloud!.hold(true);
    const dev = boot(world, new MemoryStorage(), { role: "actuator", heartbeatIntervalMs: 60_000, outbox: { receiptTimeoutMs: 50_000, receiptTimeoutCapMs: 50_000 } });
    world.clock.advance(100);
    command(world, "c1");
    world.clock.advance(100);
    expect(dev.rt.stats().outboxSent).toBe(1);
    world.broker.dropClient(id);
    const cut = world.clock.uptimeMs();
    world.clock.advance(5_000);
    const resend = dev.events.filter((e) => e.type === "published" && e.kind === "ack" && e.atMs > cut);
    expect(resend.length).toBe(1);
    expect(dev.rt.stats().retransmits).toBe(1);
  });

  it("forgets exactly the seqs a receipt names; rejected ones are counted; unknown seqs are counted", () => {
    const world = createSimWorld({ cloud: false });
    const dev = boot(world, new MemoryStorage());
    world.clock.advance(6_000);
    const st = dev.rt.stats();
    const held = [...new Set(uplinks(world, "tele").map((e) => e.seq))]; // resent meanwhile: no receipts
    expect(st.outboxDepth).toBe(held.length);
    expect(st.outboxDepth).toBeGreaterThanOrEqual(6);
    const [a, b, c] = held;
    const hb = uplinks(world, "hb")[0]!.seq;
    receipt(world, st.epoch, [[a!, a!], [hb, hb]], [[c!, c!]]);
    world.clock.advance(10);
    const gone = dev.events.filter((e) => e.type === "confirmed" || e.type === "rejected").map((e) => `${e.type}:${(e as { seq: number }).seq}`);
    expect(gone).toEqual([`confirmed:${a}`, `rejected:${c}`]);
    const s2 = dev.rt.stats();
    expect(s2.outboxDepth).toBe(st.outboxDepth - 2 + (s2.batches - st.batches));
    expect(s2.counters).toMatchObject({ rcptConfirmed: 1, rcptRejected: 1, rcptUnknown: 1 });
    expect(s2.settledBelow).toBe(b); // a left, b is now the oldest held
  });

  it("refuses receipts for another epoch or out of bounds, whole, counted; never a crash", () => {
    const world = createSimWorld({ cloud: false });
    const dev = boot(world, new MemoryStorage());
    world.clock.advance(4_000);
    const st = dev.rt.stats();
    const a = uplinks(world, "tele")[0]!.seq;
    const next = st.nextSeq;
    receipt(world, st.epoch + 1, [[a!, a!]]); // another epoch
    receipt(world, 0, [[a!, a!]]); // legacy: no epoch
    receipt(world, st.epoch, [[a!, a!], [next, next]]); // names a seq never handed out
    receipt(world, st.epoch, [[a!, a! + receiptSpanMax]]); // too wide (and beyond next)
    receipt(world, st.epoch, [[a! + 1, a!]]); // empty range
    receipt(world, st.epoch, Array.from({ length: receiptRangesMax + 1 }, () => [a!, a!] as [number, number])); // too many ranges: a decode error
    world.broker.publish(deviceTopic(id, Downlink.Receipt), Uint8Array.of(0xff, 0xff, 0xff)); // not protobuf
    world.broker.publish(deviceTopic(id, Downlink.Receipt), encodeEnvelope(createEnvelope({ schemaVersion, deviceId: id, seq: 1, commandAck: createCommandAck({ commandId: "x" }) })));
    world.clock.advance(10);
    const c = dev.rt.stats().counters;
    expect(c.rcptOtherEpoch).toBe(2);
    expect(c.rcptBad).toBe(6);
    expect(c.rcptConfirmed ?? 0).toBe(0);
    expect(dev.events.some((e) => e.type === "confirmed")).toBe(false);
    receipt(world, st.epoch, [[1, a!]]); // a good one still works
    world.clock.advance(10);
    expect(dev.rt.stats().counters.rcptConfirmed).toBe(1);
  });

  it("refuses to queue a message larger than messageBytesMax, counted, and keeps running", () => {
    const world = createSimWorld();
    const big = "x".repeat(600);
    const dev = boot(world, new MemoryStorage(), {
      role: "actuator", outbox: { messageBytesMax: 512 }, commandHandlers: { big: () => ({ status: 1, resultJson: JSON.stringify({ big }) }) },
    });
    world.clock.advance(100);
    world.broker.publish(deviceTopic(id, Downlink.Command), encodeEnvelope(createEnvelope({ schemaVersion, deviceId: id, seq: 1, command: createCommand({ commandId: "b1", name: "big" }) })));
    command(world, "p1");
    world.clock.advance(100);
    const acks = uplinks(world, "ack").map((e) => e.commandAck!.commandId);
    expect(acks).toEqual(["p1"]);
    const st = dev.rt.stats();
    expect(st.counters.outboxOversized).toBe(1);
    expect(st.dropped).toBe(1);
    expect(st.outboxDepth).toBe(0);
  });
});

describe("upgrade from firmware without epochs", () => {
  it("stored envelopes get the new epoch, seqs continue above the old mark, and the cloud confirms them", () => {
    // The flash as the previous firmware left it: an 8-byte seq mark and outbox records without epoch.
    const storage = new MemoryStorage();
    const oldSeq = new PersistentSequence(storage, "seq", 8);
    const oldOutbox = new Outbox(storage, outboxDefaults, new SeededRandom(1));
    const legacy: number[] = [];
    for (let i = 0; i < 3; i++) {
      const seq = oldSeq.take();
      legacy.push(seq);
      oldOutbox.push(seq, 4, MessageClass.Ack, encodeEnvelope(createEnvelope({ schemaVersion, deviceId: id, seq, commandAck: createCommandAck({ commandId: `old-${i}` }) })));
    }
    const world = createSimWorld();
    const dev = boot(world, storage, { role: "actuator" });
    const epoch = dev.rt.stats().epoch;
    expect(epoch).toBeGreaterThan(0);
    expect(dev.rt.stats().nextSeq).toBe(10); // above the old block of 8; 9 went to the will
    world.clock.advance(200);
    const acks = uplinks(world, "ack");
    expect(acks.map((e) => [e.seq, e.epoch, e.commandAck!.commandId])).toEqual(legacy.map((s, i) => [s, epoch, `old-${i}`]));
    for (const e of acks) expect(e.settledBelow).toBe(legacy[0]);
    expect(dev.rt.stats()).toMatchObject({ outboxDepth: 0, confirmed: 3 });
  });
});
