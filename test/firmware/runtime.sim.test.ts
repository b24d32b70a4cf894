// The device runtime under simulated time (fake clock, in-memory broker and
// storage): heartbeat cadence, Hello/Counters/Status on connect,
// resubscription at QoS 0, telemetry content, seq across restarts, the outbox
// across a crash, idempotent and expiring commands, desired config.
import { describe, expect, it } from "vitest";
import { DeviceRuntime, type RuntimeEvent } from "../../firmware/device/runtime";
import type { DeviceOptionsInit } from "../../firmware/device/options";
import { SimDesiredShadow } from "../../firmware/sim/config-delta";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { ReplaySource, rebasedTimeMs, roomClimateChannels, type TraceRow } from "../../firmware/sim/replay-source";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../firmware/sim/sim-platform";
import { isTraceparent } from "../../firmware/device/trace-context";
import { decodeBatch } from "../../shared/codec/batch";
import { GCounter } from "../../shared/crdt/gcounter";
import { fnv1a32 } from "../../shared/crdt/wire";
import {
  AckStatus,
  Presence,
  createCommand,
  createDesiredConfig,
  createEnvelope,
  decodeEnvelope,
  encodeCounterState,
  encodeEnvelope,
  schemaVersion,
  type Envelope,
} from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceTopic } from "../../shared/topics";

const id = "dev-1";

function rows(n: number): TraceRow[] {
  return Array.from({ length: n }, (_, i) => ({
    timeMs: 1_458_031_648_545 + i * 1_000 + ((i * 37) % 11),
    values: [20 + ((i * 7) % 13) * 0.01, 40 + ((i * 13) % 17) * 0.001, 180 + (i % 5) * 0.01, 500 + (i % 9) * 0.1],
  }));
}

interface Dev {
  world: SimWorld;
  storage: MemoryStorage;
  rt: DeviceRuntime;
  events: RuntimeEvent[];
  trace: TraceRow[];
  startMs: number;
}

function boot(world: SimWorld, storage: MemoryStorage, init: Partial<DeviceOptionsInit> = {}, seed = 1, trace = rows(500), speedup = 1): Dev {
  const events: RuntimeEvent[] = [];
  const startMs = world.clock.wallMs();
  const sensor = init.role === "actuator" ? undefined : new ReplaySource(roomClimateChannels, trace, { startMs, speedup, loop: true });
  const platform = createSimPlatform(world, { seed, storage, ...(sensor ? { sensor } : {}) });
  const rt = new DeviceRuntime(platform, {
    deviceId: id, brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 5_000, sampleIntervalMs: 500, batchPointsMax: 10,
    batchAgeMaxMs: 60_000, seqBlock: 8, ...init,
  }, (e) => events.push(e));
  rt.start();
  return { world, storage, rt, events, trace, startMs };
}

function fresh(init: Partial<DeviceOptionsInit> = {}): Dev {
  return boot(createSimWorld(), new MemoryStorage(), init);
}

function sent(world: SimWorld, kind?: string): Array<{ topic: string; env: Envelope; retain: boolean; will: boolean }> {
  return world.broker.log
    .filter((m) => m.from === id || m.will)
    .filter((m) => kind === undefined || m.topic.endsWith("/" + kind))
    .map((m) => ({ topic: m.topic, env: decodeEnvelope(m.payload), retain: m.retain, will: m.will }));
}

function command(world: SimWorld, commandId: string, name: string, argsJson = "", deadlineMs = 0, traceparent = ""): void {
  world.broker.publish(deviceTopic(id, Downlink.Command), encodeEnvelope(createEnvelope({
    schemaVersion, deviceId: id, seq: 1, traceparent, command: createCommand({ commandId, name, argsJson, deadlineMs }),
  })));
}

describe("device runtime on connect", () => {
  it("publishes retained ONLINE, Hello and CounterState, and subscribes to cmd, cfg and rcpt at QoS 0", () => {
    const { world } = fresh();
    world.clock.advance(50);
    const [status, hello, ctr] = sent(world);
    expect(status!.topic).toBe(deviceTopic(id, "status"));
    expect(status!.retain).toBe(true);
    expect(status!.env.status!.presence).toBe(Presence.PRESENCE_ONLINE);
    expect(hello!.env.hello!.channels.map((c) => [c.name, c.unit, c.resolution])).toEqual(roomClimateChannels.map((c) => [c.name, c.unit, c.resolution]));
    expect(hello!.env.hello!.bootCount).toBe(1);
    expect(hello!.env.hello!.capabilities).toContain("telemetry");
    expect(hello!.env.hello!.resources!.cpuMhz).toBe(240);
    expect(ctr!.env.counters!.counters.map((c) => c.name)).toContain("boots");
    expect(world.broker.subscriptionsOf(id)).toEqual([
      { topic: deviceTopic(id, Downlink.Command), qos: 0 },
      { topic: deviceTopic(id, Downlink.Config), qos: 0 },
      { topic: deviceTopic(id, Downlink.Receipt), qos: 0 },
    ]);
    for (const m of sent(world)) {
      expect(m.env.schemaVersion).toBe(schemaVersion);
      expect(m.env.deviceId).toBe(id);
      expect(isTraceparent(m.env.traceparent)).toBe(true);
    }
  });

  it("resubscribes after a reconnect", () => {
    const { world, rt } = fresh();
    world.clock.advance(50);
    world.broker.dropClient(id);
    world.clock.advance(2_000);
    expect(rt.stats().connects).toBe(2);
    expect(world.broker.subscriptionsOf(id).map((s) => s.qos)).toEqual([0, 0, 0]);
    expect(sent(world, "hello").length).toBe(2);
  });
});

describe("heartbeats", () => {
  it("are sent every heartbeat interval with increasing heartbeat_seq and a counter digest", () => {
    const { world, rt } = fresh({ heartbeatIntervalMs: 2_000 });
    world.clock.advance(60_000 + 10);
    const hbs = sent(world, "hb");
    expect(hbs.length).toBe(30);
    expect(hbs.map((h) => h.env.heartbeat!.heartbeatSeq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const times = hbs.map((h) => h.env.deviceTimeMs);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(2_000);
    const last = hbs[hbs.length - 1]!.env.heartbeat!;
    expect(last.uptimeMs).toBe(60_000);
    expect(last.freeHeapBytes).toBe(65_536);
    expect(last.outboxDepth).toBe(rt.stats().outboxDepth);
    expect(last.counterDigest).not.toBe(0);
  });

  it("the digest is FNV-1a of the canonical CounterState published on request", () => {
    const { world, rt } = fresh({ role: "actuator", heartbeatIntervalMs: 1_000 });
    world.clock.advance(1_000);
    command(world, "c1", "sync-counters");
    world.clock.advance(5); // counters published, no counter changes before the next heartbeat... except 'sent'
    const st = rt.stats();
    expect(st.counters.cmdsExecuted).toBe(1);
    const ctrs = sent(world, "ctr");
    expect(ctrs.length).toBe(2);
    const state = ctrs[1]!.env.counters!;
    const values = Object.fromEntries(state.counters.map((c) => [c.name, GCounter.decode(c.state).get(id)]));
    expect(values.cmdsExecuted).toBe(1);
    // A heartbeat's digest is over the same canonical encoding.
    expect(fnv1a32(encodeCounterState(state))).toBeGreaterThan(0);
  });

  it("cadence follows the shadow delta: applied, reported, kept over a restart; invalid fields refused; a deletion restores the built-in", () => {
    const dev = fresh({ heartbeatIntervalMs: 10_000 });
    const { world } = dev;
    world.clock.advance(100);
    const desired = new SimDesiredShadow();
    const push = (...fields: string[]) => world.broker.publish(deviceTopic(id, Downlink.Config), desired.envelope(id, 1, fields));
    desired.set("heartbeatIntervalMs", 1_000).set("batchPointsMax", 5);
    push("heartbeatIntervalMs", "batchPointsMax");
    world.clock.advance(10);
    expect(dev.rt.cadence.heartbeatIntervalMs).toBe(1_000);
    expect(dev.rt.cadence.batchPointsMax).toBe(5);
    expect(dev.rt.shadowValue("heartbeatIntervalMs")).toBe("1000");
    // Invalid: below the minimum, not an integer, a setting longer than a device keeps: none applied, none reported.
    desired.set("heartbeatIntervalMs", 50).set("sampleIntervalMs", 2.5).set("mode", "x".repeat(600));
    push("heartbeatIntervalMs", "sampleIntervalMs", "mode");
    // A DesiredConfig without a delta (an old cloud's linear config) is ignored.
    world.broker.publish(deviceTopic(id, Downlink.Config), encodeEnvelope(createEnvelope({
      schemaVersion, deviceId: id, seq: 2, config: createDesiredConfig({ version: 9, heartbeatIntervalMs: 7_000 }),
    })));
    world.clock.advance(10);
    expect(dev.rt.cadence.heartbeatIntervalMs).toBe(1_000);
    expect(dev.rt.shadowValue("heartbeatIntervalMs")).toBe("1000");
    expect(dev.rt.shadowValue("mode")).toBeUndefined();
    const configs = dev.events.filter((e) => e.type === "config") as Array<Extract<RuntimeEvent, { type: "config" }>>;
    expect(configs.map((e) => [e.applied, e.rejected])).toEqual([[["batchPointsMax", "heartbeatIntervalMs"], []], [[], ["heartbeatIntervalMs", "mode", "sampleIntervalMs"]]]);
    expect(dev.rt.stats().counters.configsRejected).toBe(3);
    expect(dev.rt.stats().counters.configsApplied).toBe(2);
    // A setting may be any JSON (an actuator's set point): kept and reported; settings() lists the string ones only.
    desired.set("setpoint", 21);
    push("setpoint");
    world.clock.advance(10);
    expect(dev.rt.shadowValue("setpoint")).toBe("21");
    expect(dev.rt.settings().some((x) => x.key === "setpoint")).toBe(false);
    const before = sent(world, "hb").length;
    world.clock.advance(10_000);
    const hbs = sent(world, "hb").slice(before);
    expect(hbs.length).toBe(10);
    // The applied values ride on the next heartbeat as the device's reported fields.
    const reported = hbs.flatMap((h) => h.env.shadowReport?.fields ?? []);
    expect(reported.find((f) => f.name === "heartbeatIntervalMs")!.values.map((v) => v.valueJson)).toEqual(["1000"]);
    dev.rt.crash();
    // Flash of a device upgraded from firmware before the shadow: its versioned config ("cfg") is dropped at boot, not read.
    const flash = dev.storage.clone();
    flash.write("cfg", new Uint8Array([8, 7, 16, 200, 1]));
    const again = boot(world, flash, { heartbeatIntervalMs: 10_000 }, 2);
    expect(flash.read("cfg")).toBeUndefined();
    expect(again.rt.cadence.heartbeatIntervalMs).toBe(1_000);
    expect(again.rt.cadence.batchPointsMax).toBe(5);
    world.clock.advance(2_000);
    // Deleted in the desired document: the empty set; the built-in comes back and the report carries the deletion.
    desired.delete("heartbeatIntervalMs");
    push("heartbeatIntervalMs");
    world.clock.advance(10);
    expect(again.rt.cadence.heartbeatIntervalMs).toBe(10_000);
    expect(again.rt.shadowValue("heartbeatIntervalMs")).toBeUndefined();
    const n = sent(world, "hb").length;
    world.clock.advance(10_000);
    const later = sent(world, "hb").slice(n).flatMap((h) => h.env.shadowReport?.fields ?? []);
    const gone = later.find((f) => f.name === "heartbeatIntervalMs")!;
    expect(gone.values).toEqual([]);
    expect(gone.context.length).toBe(1);
  });
});

describe("telemetry", () => {
  it("batches N points into TelemetryBatch envelopes whose codec payload equals the replayed trace", () => {
    const dev = fresh({ sampleIntervalMs: 200 });
    const { world } = dev;
    world.clock.advance(35_000);
    const teles = sent(world, "tele").map((m) => m.env.telemetry!);
    expect(teles.length).toBe(3);
    expect(teles.map((t) => t.batchSeq)).toEqual([1, 2, 3]);
    let i = 0;
    for (const t of teles) {
      expect(t.pointCount).toBe(10);
      expect(t.channels.map((c) => c.name)).toEqual(roomClimateChannels.map((c) => c.name));
      const b = decodeBatch(t.payload);
      expect(b.timestampsMs[0]).toBe(t.firstTimeMs);
      expect(b.timestampsMs[9]).toBe(t.lastTimeMs);
      for (let k = 0; k < b.timestampsMs.length; k++, i++) {
        expect(b.timestampsMs[k]).toBe(rebasedTimeMs(dev.trace, i, dev.startMs, 1));
        roomClimateChannels.forEach((ch, c) => expect(Math.round(b.channels[c]!.values[k]! / ch.resolution)).toBe(Math.round(dev.trace[i]!.values[c]! / ch.resolution)));
      }
    }
    expect(dev.rt.stats().outboxDepth).toBe(0);
    expect(dev.rt.stats().acked).toBe(3);
    expect(dev.rt.stats().confirmed).toBe(3); // the world's cloud stand-in sent receipts
  });

  it("sends a partial batch when its first point is batchAgeMaxMs old", () => {
    const { world } = fresh({ batchPointsMax: 100, batchAgeMaxMs: 4_000 });
    world.clock.advance(4_600);
    const teles = sent(world, "tele");
    expect(teles.length).toBe(1);
    expect(teles[0]!.env.telemetry!.pointCount).toBe(5);
  });
});

describe("seq", () => {
  it("is strictly increasing in allocation order across restarts and crashes, never reused", () => {
    const world = createSimWorld();
    let storage = new MemoryStorage();
    const allocated: number[] = [];
    for (let bootNo = 0; bootNo < 5; bootNo++) {
      const dev = boot(world, storage, { seqBlock: 8 }, 100 + bootNo);
      const from = world.broker.log.length;
      world.clock.advance(7_000 + bootNo * 1_300);
      for (const m of world.broker.log.slice(from)) {
        if (m.from !== id) continue;
        const seq = decodeEnvelope(m.payload).seq;
        if (!allocated.includes(seq)) allocated.push(seq);
      }
      dev.rt.crash();
      storage = storage.clone();
      world.clock.advance(100);
    }
    // Within a boot, first-seen order is allocation order except outbox resends of older seqs; across boots no reuse.
    expect(new Set(allocated).size).toBe(allocated.length);
    expect(allocated.length).toBeGreaterThan(20);
  });

  it("a reboot's first seq is above every seq handed out before, even mid-block", () => {
    const world = createSimWorld();
    const storage = new MemoryStorage();
    const a = boot(world, storage, { seqBlock: 64 });
    world.clock.advance(3_000);
    const maxBefore = Math.max(...sent(world).map((m) => m.env.seq));
    a.rt.crash();
    const n = world.broker.log.length;
    boot(world, storage.clone(), { seqBlock: 64 }, 2);
    world.clock.advance(50);
    const firstAfter = decodeEnvelope(world.broker.log.slice(n).find((m) => m.from === id)!.payload).seq;
    expect(firstAfter).toBeGreaterThan(maxBefore);
  });
});

describe("outbox across a crash", () => {
  it("resends exactly the unconfirmed messages after a reboot (PUBACKed or not); confirmed ones are not resent", () => {
    const world = createSimWorld();
    const storage = new MemoryStorage();
    const opts = { sampleIntervalMs: 100, batchPointsMax: 5 };
    const a = boot(world, storage, opts, 1, rows(500), 20);
    world.clock.advance(2_050);
    const confirmed = sent(world, "tele").map((m) => m.env.seq);
    expect(confirmed.length).toBeGreaterThanOrEqual(4);
    expect(a.rt.stats()).toMatchObject({ outboxDepth: 0, confirmed: confirmed.length });
    world.cloud!.hold(true); // recorded, but no receipts
    world.clock.advance(2_000);
    world.broker.holdAcks(true); // the last ones not even PUBACKed
    world.clock.advance(3_000);
    const unconfirmed = sent(world, "tele").map((m) => m.env.seq).filter((s) => !confirmed.includes(s));
    const st = a.rt.stats();
    expect(st.outboxSent).toBeGreaterThanOrEqual(4); // PUBACKed, kept: the PUBACK is flow control only
    expect(st.outboxInflight).toBe(8);
    expect(st.outboxDepth).toBeGreaterThan(st.outboxSent + st.outboxInflight); // the rest waited for the window
    expect(unconfirmed.length).toBe(st.outboxSent + st.outboxInflight);
    const depth = st.outboxDepth;
    a.rt.crash();
    world.broker.holdAcks(false);
    world.cloud!.hold(false);
    const mark = world.broker.log.length;
    const b = boot(world, storage.clone(), opts, 2, rows(500), 20);
    world.clock.advance(30);
    const resent = world.broker.log.slice(mark).filter((m) => m.topic.endsWith("/tele")).map((m) => decodeEnvelope(m.payload).seq);
    expect(resent.slice(0, unconfirmed.length)).toEqual(unconfirmed);
    expect(resent.length).toBe(depth);
    for (let i = 1; i < resent.length; i++) expect(resent[i]!).toBeGreaterThan(resent[i - 1]!);
    for (const s of confirmed) expect(resent).not.toContain(s);
    world.clock.advance(20);
    expect(b.rt.stats()).toMatchObject({ confirmed: depth, outboxDepth: 0, retransmits: 0 }); // first sends of this boot
  });

  it("while offline it buffers up to its limits and counts what it drops", () => {
    const world = createSimWorld();
    world.broker.setAvailable(false);
    const dev = boot(world, new MemoryStorage(), {
      sampleIntervalMs: 100, batchPointsMax: 2, backoff: { baseMs: 100, capMs: 500 }, outbox: { messagesMax: 10, bytesMax: 64 * 1024, inflightMax: 4 },
    }, 1, rows(500), 20);
    world.clock.advance(10_000);
    const s = dev.rt.stats();
    expect(s.batches).toBeGreaterThan(40);
    expect(s.outboxDepth).toBe(10);
    expect(s.dropped).toBe(s.batches - 10);
    expect(s.counters.outboxDropped).toBe(s.batches - 10);
    world.broker.setAvailable(true);
    world.clock.advance(10_000);
    const teles = sent(world, "tele").map((m) => m.env.telemetry!.batchSeq);
    // In order, and only the newest survived the outage.
    for (let i = 1; i < teles.length; i++) expect(teles[i]!).toBeGreaterThan(teles[i - 1]!);
    expect(teles[0]!).toBeGreaterThan(s.batches - 10);
    const after = dev.rt.stats();
    expect(after.outboxDepth).toBeLessThan(10);
    expect(teles.length + after.outboxDepth + after.dropped).toBe(after.batches);
    const hb = sent(world, "hb").pop()!.env.heartbeat!;
    expect(hb.outboxDropped).toBe(after.dropped);
  });
});

describe("commands", () => {
  it("executes a command id once; a duplicate gets the same ack with duplicate=true", () => {
    const dev = fresh({ role: "actuator" });
    const { world } = dev;
    world.clock.advance(50);
    const parent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
    command(world, "k1", "set", "{\"value\":7}", 0, parent);
    world.clock.advance(10);
    command(world, "k1", "set", "{\"value\":9}");
    world.clock.advance(10);
    expect(dev.rt.actuatorValue).toBe(7);
    const acks = sent(world, "ack").map((m) => m.env);
    expect(acks.map((a) => [a.commandAck!.commandId, a.commandAck!.status, a.commandAck!.duplicate])).toEqual([
      ["k1", AckStatus.ACK_STATUS_OK, false],
      ["k1", AckStatus.ACK_STATUS_OK, true],
    ]);
    expect(acks[0]!.commandAck!.resultJson).toBe("{\"value\":7}");
    expect(acks[0]!.traceparent.slice(0, 36)).toBe(parent.slice(0, 36)); // continues the command's trace
    expect(acks[0]!.traceparent).not.toBe(parent);
    expect(dev.rt.stats().counters.cmdsExecuted).toBe(1);
    expect(dev.rt.stats().counters.cmdsDuplicate).toBe(1);
  });

  it("remembers executed ids across a restart", () => {
    const dev = fresh({ role: "actuator" });
    dev.world.clock.advance(50);
    command(dev.world, "k2", "set", "{\"on\":true}");
    dev.world.clock.advance(10);
    dev.rt.crash();
    const again = boot(dev.world, dev.storage.clone(), { role: "actuator" }, 3);
    dev.world.clock.advance(50);
    command(dev.world, "k2", "set", "{\"on\":true}");
    dev.world.clock.advance(10);
    expect(again.rt.actuatorValue).toBe(1); // restored from storage, not executed again
    expect(again.rt.stats().counters.cmdsExecuted).toBe(1); // counted on the first boot only
    const acks = sent(dev.world, "ack").map((m) => m.env.commandAck!);
    expect(acks.map((a) => a.duplicate)).toEqual([false, true]);
  });

  it("rejects an expired command without executing it, and unknown or malformed ones with a reason", () => {
    const dev = fresh({ role: "actuator" });
    const { world } = dev;
    world.clock.advance(50);
    command(world, "old", "set", "{\"value\":1}", world.clock.wallMs() - 1);
    command(world, "nope", "fly");
    command(world, "bad", "set", "{\"value\":\"x\"}");
    command(world, "", "set");
    world.broker.publish(deviceTopic(id, Downlink.Command), new Uint8Array([0xff, 0xff, 0xff]));
    world.clock.advance(20);
    expect(dev.rt.actuatorValue).toBe(0);
    const acks = sent(world, "ack").map((m) => m.env.commandAck!);
    expect(acks.map((a) => [a.commandId, a.status])).toEqual([
      ["old", AckStatus.ACK_STATUS_EXPIRED],
      ["nope", AckStatus.ACK_STATUS_REJECTED],
      ["bad", AckStatus.ACK_STATUS_REJECTED],
      ["", AckStatus.ACK_STATUS_REJECTED],
    ]);
    expect(acks[1]!.message).toMatch(/unknown command/);
    const c = dev.rt.stats().counters;
    expect(c.cmdsExpired).toBe(1);
    expect(c.badMessages).toBe(1);
  });

  it("a burst beyond the downlink queue is dropped and counted, not processed in the socket callback", () => {
    const dev = fresh({ role: "actuator" });
    dev.world.clock.advance(50);
    for (let i = 0; i < 20; i++) command(dev.world, `p${i}`, "ping");
    dev.world.clock.advance(20);
    expect(sent(dev.world, "ack").length).toBe(16);
    expect(dev.rt.stats().counters.downlinksDropped).toBe(4);
    // The cloud retries: a resend of a dropped one is executed then.
    command(dev.world, "p19", "ping");
    dev.world.clock.advance(20);
    expect(sent(dev.world, "ack").pop()!.env.commandAck!).toMatchObject({ commandId: "p19", duplicate: false });
  });

  it("a handler that throws is acked FAILED with its message", () => {
    const dev = fresh({ role: "actuator", commandHandlers: { boom: () => { throw new Error("relay stuck"); } } });
    dev.world.clock.advance(50);
    command(dev.world, "b1", "boom");
    dev.world.clock.advance(10);
    const ack = sent(dev.world, "ack")[0]!.env.commandAck!;
    expect(ack.status).toBe(AckStatus.ACK_STATUS_FAILED);
    expect(ack.message).toBe("relay stuck");
  });
});

describe("shutdown", () => {
  it("a clean stop publishes retained OFFLINE and no will", () => {
    const { world, rt } = fresh();
    world.clock.advance(1_000);
    rt.stop();
    world.clock.advance(100);
    const statuses = sent(world, "status");
    expect(statuses.map((s) => [s.env.status!.presence, s.retain, s.will])).toEqual([
      [Presence.PRESENCE_ONLINE, true, false],
      [Presence.PRESENCE_OFFLINE, true, false],
    ]);
    expect(world.broker.retained(deviceTopic(id, "status"))).toBeDefined();
  });

  it("rejects bad options with a clear message", () => {
    const world = createSimWorld();
    const platform = createSimPlatform(world, { seed: 1 });
    expect(() => new DeviceRuntime(platform, { deviceId: "a.b", brokerUrls: ["mqtt://x:1"] })).toThrow(/invalid device id/);
    expect(() => new DeviceRuntime(platform, { deviceId: "a", role: "actuator", brokerUrls: [] })).toThrow(/brokerUrls/);
    expect(() => new DeviceRuntime(platform, { deviceId: "a", role: "actuator", brokerUrls: ["mqtt://x:1"], heartbeatIntervalMs: 5 })).toThrow(/heartbeatIntervalMs/);
    expect(() => new DeviceRuntime(platform, { deviceId: "a", brokerUrls: ["mqtt://x:1"] })).toThrow(/needs platform.sensor/);
  });
});
