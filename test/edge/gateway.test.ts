// The gateway core and the link frames at their edges: frames reassemble
// from any chunking; a bad frame (length out of bounds, unknown type, an
// envelope naming another device, a publish before join) closes that link
// and is counted, an admitted child's will then goes out with via; a child
// not on the allow-list is refused until desired config lists it; a command
// reaches the right child and its ack comes back through the gateway once.
import { describe, expect, it } from "vitest";
import { DeviceRuntime } from "../../firmware/device/runtime";
import { FrameReader, FrameType, encodeFrame, linkFrameBytesMax } from "../../firmware/edge/frame";
import { Gateway, joinFrameBytesMax } from "../../firmware/edge/gateway";
import { linkMqttConnect, type LinkClientStats } from "../../firmware/edge/link-client";
import { SimDesiredShadow } from "../../firmware/sim/config-delta";
import { MemoryNetwork } from "../../firmware/sim/memory-links";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { SeededRandom } from "../../firmware/sim/sim-clock";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../firmware/sim/sim-platform";
import {
  Presence, createCommand, createEnvelope, createStatus, decodeEnvelope, encodeEnvelope, schemaVersion,
} from "../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, deviceTopic } from "../../shared/topics";

describe("link frames", () => {
  it("reassemble from chunks of any size", () => {
    const frames = [
      encodeFrame({ type: FrameType.Join, deviceId: "c-1", keepaliveS: 30, will: new Uint8Array([1, 2, 3]) }),
      encodeFrame({ type: FrameType.Publish, kind: 2, retain: false, packetId: 513, envelope: new Uint8Array(300).fill(7) }),
      encodeFrame({ type: FrameType.Ping }),
    ];
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) { all.set(f, o); o += f.length; }
    for (const step of [1, 3, 7, 64, all.length]) {
      const r = new FrameReader();
      const got = [];
      for (let i = 0; i < all.length; i += step) {
        const out = r.push(all.subarray(i, i + step));
        if (typeof out === "string") throw new Error(out);
        got.push(...out);
      }
      expect(got.map((f) => f.type)).toEqual([FrameType.Join, FrameType.Publish, FrameType.Ping]);
      expect(got[0]).toMatchObject({ deviceId: "c-1", keepaliveS: 30 });
      expect(got[1]).toMatchObject({ kind: 2, packetId: 513 });
    }
  });

  it("a length out of bounds or an unknown type fails the reader for good", () => {
    const tooLong = new Uint8Array([0, 0, 0, 0]);
    new DataView(tooLong.buffer).setUint32(0, linkFrameBytesMax + 1);
    for (const bad of [new Uint8Array([0, 0, 0, 0]), tooLong, new Uint8Array([0, 0, 0, 1, 99]), new Uint8Array([0, 0, 0, 2, FrameType.Ping, 1])]) {
      const r = new FrameReader();
      expect(typeof r.push(bad)).toBe("string");
      expect(r.failed).toBe(true);
      expect(r.push(encodeFrame({ type: FrameType.Ping }))).toBe("reader failed");
    }
    expect(() => encodeFrame({ type: FrameType.Join, deviceId: "bad id", keepaliveS: 1, will: new Uint8Array(0) })).toThrow(/device id/);
  });
});

interface Star {
  world: SimWorld;
  net: MemoryNetwork;
  gateway: Gateway;
  gwRuntime: DeviceRuntime;
  run(ms: number): void;
}

function star(allow: string[]): Star {
  const world = createSimWorld();
  const net = new MemoryNetwork(world.clock, new SeededRandom(9));
  const p = createSimPlatform(world, { seed: 1 });
  const gateway = new Gateway({ ...p, links: net.host("gw").links }, { gatewayId: "gw", port: 1884, allow });
  const gwRuntime: DeviceRuntime = new DeviceRuntime({ ...p, mqttConnect: gateway.upstream(world.broker.connect) }, {
    deviceId: "gw", role: "gateway", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 1_000,
  }, (e) => { if (e.type === "config" && e.settingsChanged) gateway.applySettings(gwRuntime.settings()); });
  gateway.start();
  gwRuntime.start();
  const run = (ms: number): void => { for (let t = 0; t < ms; t += 10) world.clock.advance(10); };
  run(200);
  return { world, net, gateway, gwRuntime, run };
}

function child(s: Star, id: string, stats: LinkClientStats, role: "sensor" | "actuator" = "actuator"): DeviceRuntime {
  const p = createSimPlatform(s.world, { seed: 2, storage: new MemoryStorage() });
  const rt = new DeviceRuntime({ ...p, mqttConnect: linkMqttConnect(s.net.host(id).links, s.world.clock, s.world.clock, stats) }, {
    deviceId: id, role, brokerUrls: ["mqtt://gw:1884"], heartbeatIntervalMs: 1_000, keepaliveS: 2, connectTimeoutMs: 500, backoff: { baseMs: 100, capMs: 500 },
    outbox: { receiptTimeoutMs: 1_000 },
  });
  rt.start();
  return rt;
}

/** A raw link to the gateway that records what it hears. */
function rawLink(s: Star, host: string): { send(b: Uint8Array): void; closed: () => boolean; frames: number[] } {
  let closed = false;
  const frames: number[] = [];
  const reader = new FrameReader();
  const link = s.net.host(host).links.connect("gw", 1884, {
    opened: () => {},
    data: (c) => { const f = reader.push(c); if (typeof f !== "string") frames.push(...f.map((x) => x.type)); },
    closed: () => { closed = true; },
  });
  return { send: (b) => link.send(b), closed: () => closed, frames };
}

function statusOf(s: Star, id: string): { presence: number; via: string } | undefined {
  const m = s.world.broker.log.filter((x) => x.topic === deviceTopic(id, Uplink.Status)).at(-1);
  if (m === undefined) return undefined;
  const e = decodeEnvelope(m.payload);
  return { presence: e.status!.presence, via: e.via };
}

describe("gateway", () => {
  it("closes a link on a bad frame and counts it", () => {
    const s = star(["a"]);
    const raw = rawLink(s, "junk");
    s.run(50);
    raw.send(new Uint8Array([0, 0, 0, 1, 200]));
    s.run(50);
    expect(raw.closed()).toBe(true);
    expect(s.gateway.stats.badFrames).toBe(1);
    const early = rawLink(s, "early");
    s.run(50);
    early.send(encodeFrame({ type: FrameType.Publish, kind: 2, retain: false, packetId: 1, envelope: new Uint8Array([8, 1]) }));
    s.run(50);
    expect(early.closed()).toBe(true);
    expect(s.gateway.stats.badFrames).toBe(2);
    // Before a Join is admitted, a frame announced above joinFrameBytesMax is refused at its header.
    const big = rawLink(s, "big");
    s.run(50);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, joinFrameBytesMax + 1);
    big.send(header);
    s.run(50);
    expect(big.closed()).toBe(true);
    expect(s.gateway.stats.badFrames).toBe(3);
  });

  it("reports a port it cannot listen on", () => {
    const s = star(["a"]);
    const p = createSimPlatform(s.world, { seed: 4 });
    const second = new Gateway({ ...p, links: s.net.host("gw").links }, { gatewayId: "gw2", port: 1884, allow: [] });
    second.start();
    s.run(10);
    expect(second.stats.listenFailed).toBe(true);
    expect(s.gateway.stats.listenFailed).toBe(false);
    second.stop();
  });

  it("an admitted child whose envelope names another device is closed, and its will goes out via the gateway", () => {
    const s = star(["a"]);
    const raw = rawLink(s, "a");
    const will = encodeEnvelope(createEnvelope({ schemaVersion, deviceId: "a", seq: 1, status: createStatus({ presence: Presence.PRESENCE_OFFLINE, reason: "connection lost" }) }));
    s.run(50);
    raw.send(encodeFrame({ type: FrameType.Join, deviceId: "a", keepaliveS: 30, will }));
    s.run(50);
    expect(raw.frames).toEqual([FrameType.Accept]);
    const spoof = encodeEnvelope(createEnvelope({ schemaVersion, deviceId: "someone-else", seq: 2, status: createStatus({ presence: Presence.PRESENCE_ONLINE }) }));
    raw.send(encodeFrame({ type: FrameType.Publish, kind: 5, retain: true, packetId: 1, envelope: spoof }));
    s.run(100);
    expect(raw.closed()).toBe(true);
    expect(s.gateway.stats.badFrames).toBe(1);
    expect(s.world.broker.log.some((m) => m.topic === deviceTopic("someone-else", Uplink.Status))).toBe(false);
    expect(statusOf(s, "a")).toEqual({ presence: Presence.PRESENCE_OFFLINE, via: "gw" });
  });

  it("refuses a child not on the allow-list until desired config lists it", () => {
    const s = star(["a"]);
    const stats: LinkClientStats = { badFrames: 0, refused: 0, sendFailures: 0 };
    const b = child(s, "b", stats);
    s.run(2_000);
    expect(b.stats().connected).toBe(false);
    expect(stats.refused).toBeGreaterThan(0);
    expect(s.gateway.stats.refused).toBeGreaterThan(0);
    const desired = new SimDesiredShadow();
    s.world.broker.publish(deviceTopic("gw", Downlink.Config), desired.set("children", "a,b").envelope("gw", 1));
    s.run(2_000);
    expect(s.gateway.allowList).toEqual(["a", "b"]);
    expect(b.stats().connected).toBe(true);
    expect(statusOf(s, "b")).toEqual({ presence: Presence.PRESENCE_ONLINE, via: "gw" });
    // Taken off the list: closed, shown offline through the gateway.
    s.world.broker.publish(deviceTopic("gw", Downlink.Config), desired.set("children", "a").envelope("gw", 2));
    s.run(300);
    expect(statusOf(s, "b")).toEqual({ presence: Presence.PRESENCE_OFFLINE, via: "gw" });
    // The setting deleted: the list is the gateway's own (options) again.
    s.world.broker.publish(deviceTopic("gw", Downlink.Config), desired.delete("children").envelope("gw", 3));
    s.run(300);
    expect(s.gateway.allowList).toEqual(["a"]);
    expect(s.gwRuntime.settings()).toEqual([]);
  });

  it("routes a command to the right child; its ack comes back through the gateway, with via", () => {
    const s = star(["a", "b"]);
    const stats: LinkClientStats = { badFrames: 0, refused: 0, sendFailures: 0 };
    const a = child(s, "a", stats);
    const b = child(s, "b", stats);
    s.run(1_000);
    expect(a.stats().connected && b.stats().connected).toBe(true);
    s.world.broker.publish(deviceTopic("b", Downlink.Command), encodeEnvelope(createEnvelope({
      schemaVersion, deviceId: "b", seq: 1, command: createCommand({ commandId: "cmd-1", name: "set", argsJson: "{\"value\":1}", deadlineMs: s.world.clock.wallMs() + 60_000 }),
    })));
    s.run(1_000);
    expect(b.actuatorValue).toBe(1);
    expect(a.actuatorValue).toBe(0);
    const acks = s.world.broker.log.filter((m) => m.topic === deviceTopic("b", Uplink.CommandAck)).map((m) => decodeEnvelope(m.payload));
    expect(acks.length).toBeGreaterThanOrEqual(1);
    expect(new Set(acks.map((e) => e.seq)).size).toBe(1); // one ack (resends carry the same seq)
    expect(acks.every((e) => e.via === "gw" && e.commandAck?.commandId === "cmd-1")).toBe(true);
    expect(stats.badFrames).toBe(0);
  });

  it("a child that dies while the gateway's uplink is cut is shown offline once the uplink is back; one that rejoins is not", () => {
    const s = star(["a", "b"]);
    const stats: LinkClientStats = { badFrames: 0, refused: 0, sendFailures: 0 };
    const a = child(s, "a", stats);
    const b = child(s, "b", stats);
    s.run(1_000);
    expect(a.stats().connected && b.stats().connected).toBe(true);
    s.world.broker.setAvailable(false); // drops the gateway: its children are closed
    s.run(500);
    expect(a.stats().connected || b.stats().connected).toBe(false);
    b.crash();
    s.net.crashHost("b");
    s.run(2_000);
    s.world.broker.setAvailable(true);
    s.run(5_000);
    expect(s.gateway.stats.upstreamConnected).toBe(true);
    expect(a.stats().connected).toBe(true);
    s.run(30_000); // rejoinGraceMs (default 30 s)
    expect(statusOf(s, "b")).toEqual({ presence: Presence.PRESENCE_OFFLINE, via: "gw" });
    expect(statusOf(s, "a")).toEqual({ presence: Presence.PRESENCE_ONLINE, via: "gw" });
  });
});
