// The host port against a real nats-server (MQTT listener): a simulated
// sensor connects over MQTT 3.1.1; a NATS subscriber receives and decodes its
// Hello, Heartbeat and TelemetryBatch (the codec payload equals the replayed
// trace), and the retained will (Status OFFLINE) when the device crashes.
// Where a test needs the outbox to drain, it plays the cloud and sends
// receipts (nats-receipt-cloud.ts; receipts.nats.test.ts tests them).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../harness/wait";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startNats, type NatsCluster } from "../harness/nats";
import { startSimDevice, type SimDevice } from "../../firmware/host/sim-device";
import { startSimFleet } from "../../firmware/host/sim-fleet";
import { loadRoomClimateFile } from "../../firmware/host/room-climate";
import { rebasedTimeMs, roomClimateChannels } from "../../firmware/sim/replay-source";
import { decodeBatch } from "../../shared/codec/batch";
import { AckStatus, Presence, Role, createCommand, createEnvelope, decodeEnvelope, encodeEnvelope, schemaVersion, type Envelope } from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceSubject } from "../../shared/topics";
import { startNatsReceiptCloud } from "./nats-receipt-cloud";

interface Seen {
  subject: string;
  env: Envelope;
}

function collector(nc: NatsConnection, subject: string): Seen[] {
  const seen: Seen[] = [];
  const sub = nc.subscribe(subject);
  void (async () => {
    for await (const m of sub) seen.push({ subject: m.subject, env: decodeEnvelope(m.data) });
  })();
  return seen;
}

describe("simulated device against nats-server MQTT", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let dir: string;
  const devices: SimDevice[] = [];

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1 });
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-simdev-"));
  });

  afterAll(async () => {
    for (const d of devices) d.crash();
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("publishes Hello, Heartbeat and telemetry that decodes to the replayed trace", async () => {
    const deviceId = "simdev-1";
    const seen = collector(nc, `xsfleet.v1.dev.${deviceId}.>`);
    await nc.flush();
    const rows = loadRoomClimateFile("location_A-measurement01.csv").get(1)!;
    const speedup = 500;
    const dev = await startSimDevice({
      deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), speedup, heartbeatIntervalMs: 300,
      sampleIntervalMs: 20, batchPointsMax: 16, trace: { file: "location_A-measurement01.csv", nodeId: 1, loop: false }, seed: 7,
    });
    devices.push(dev);
    await dev.waitFor("connected");

    const hello = await waitFor("hello", () => seen.find((s) => s.env.hello !== undefined));
    expect(hello.subject).toBe(deviceSubject(deviceId, "hello"));
    expect(hello.env.schemaVersion).toBe(schemaVersion);
    expect(hello.env.deviceId).toBe(deviceId);
    expect(hello.env.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(hello.env.hello!.role).toBe(Role.ROLE_SENSOR);
    expect(hello.env.hello!.channels.map((c) => c.name)).toEqual(roomClimateChannels.map((c) => c.name));
    expect(hello.env.hello!.resources!.freeHeapBytes).toBeGreaterThan(0);
    expect(hello.env.hello!.heartbeatIntervalMs).toBe(300);

    const hb = await waitFor("heartbeat", () => seen.find((s) => s.env.heartbeat !== undefined));
    expect(hb.env.heartbeat!.heartbeatSeq).toBe(1);
    expect(hb.env.heartbeat!.counterDigest).not.toBe(0);

    const batches = await waitFor("3 telemetry batches", () => {
      const t = seen.filter((s) => s.env.telemetry !== undefined);
      return t.length >= 3 ? t : undefined;
    });
    // Points of batches 1..3, in order, are the first trace rows, rebased and sped up.
    const points: Array<{ t: number; v: number[] }> = [];
    const ordered = [...batches].sort((a, b) => a.env.telemetry!.batchSeq - b.env.telemetry!.batchSeq).slice(0, 3);
    expect(ordered.map((b) => b.env.telemetry!.batchSeq)).toEqual([1, 2, 3]);
    for (const b of ordered) {
      const tb = b.env.telemetry!;
      const decoded = decodeBatch(tb.payload);
      expect(decoded.timestampsMs.length).toBe(tb.pointCount);
      expect(decoded.timestampsMs[0]).toBe(tb.firstTimeMs);
      for (let i = 0; i < decoded.timestampsMs.length; i++) {
        points.push({ t: decoded.timestampsMs[i]!, v: decoded.channels.map((c) => c.values[i]!) });
      }
    }
    const start = points[0]!.t;
    points.forEach((p, i) => {
      expect(p.t).toBe(rebasedTimeMs(rows, i, start, speedup));
      roomClimateChannels.forEach((ch, c) => {
        expect(Math.round(p.v[c]! / ch.resolution)).toBe(Math.round(rows[i]!.values[c]! / ch.resolution));
      });
    });
    // seq strictly increasing in what the cloud saw
    const seqs = seen.map((s) => s.env.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("answers a command from NATS with a CommandAck, once per command id", async () => {
    const deviceId = "simdev-act";
    const seen = collector(nc, `xsfleet.v1.dev.${deviceId}.ack`);
    await nc.flush();
    const dev = await startSimDevice({ deviceId, role: "actuator", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), seed: 9 });
    devices.push(dev);
    await dev.waitFor("connected");
    const cmd = encodeEnvelope(createEnvelope({
      schemaVersion, deviceId, seq: 1, command: createCommand({ commandId: "c-1", name: "set", argsJson: "{\"value\":3}", deadlineMs: Date.now() + 60_000 }),
    }));
    // The subscription is QoS 0 and may not be in place yet: resend until acked, as the cloud does.
    const first = await waitFor("ack", () => {
      nc.publish(deviceSubject(deviceId, Downlink.Command), cmd);
      return seen[0];
    });
    expect(first.env.commandAck!.commandId).toBe("c-1");
    expect(first.env.commandAck!.status).toBe(AckStatus.ACK_STATUS_OK);
    expect(dev.runtime.actuatorValue).toBe(3);
    nc.publish(deviceSubject(deviceId, Downlink.Command), cmd);
    const dup = await waitFor("duplicate ack", () => seen.find((s) => s.env.commandAck!.duplicate));
    expect(dup.env.commandAck!.status).toBe(AckStatus.ACK_STATUS_OK);
    expect(dev.stats().counters.cmdsExecuted).toBe(1);
  });

  it("the broker publishes the retained OFFLINE will when the device crashes", async () => {
    const deviceId = "simdev-crash";
    const seen = collector(nc, deviceSubject(deviceId, "status"));
    await nc.flush();
    const dev = await startSimDevice({ deviceId, role: "actuator", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), seed: 3 });
    devices.push(dev);
    await dev.waitFor("connected");
    await waitFor("online", () => seen.find((s) => s.env.status?.presence === Presence.PRESENCE_ONLINE));
    dev.crash();
    const off = await waitFor("offline will", () => seen.find((s) => s.env.status?.presence === Presence.PRESENCE_OFFLINE));
    expect(off.env.status!.reason).toBe("connection lost");
    expect(off.env.deviceId).toBe(deviceId);
  });

  it("keeps telemetry made during a network cut across a restart on the same state dir, and delivers it", async () => {
    const deviceId = "simdev-cut";
    const seen = collector(nc, deviceSubject(deviceId, "tele"));
    await nc.flush();
    const opts = {
      deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), speedup: 500, sampleIntervalMs: 20,
      batchPointsMax: 8, heartbeatIntervalMs: 1_000, backoff: { baseMs: 50, capMs: 200 }, connectTimeoutMs: 1_000,
    };
    const a = await startSimDevice({ ...opts, seed: 21 });
    devices.push(a);
    await a.waitFor("connected");
    await waitFor("first batch", () => seen.length > 0);
    a.cutNetwork();
    await waitFor("a backlog", () => a.stats().outboxDepth >= 3);
    const backlog = a.stats().outboxDepth;
    const lastSeqBefore = a.stats().nextSeq - 1;
    a.crash();
    const madeBefore = a.stats().batches; // batch_seq 1..madeBefore, first boot
    const b = await startSimDevice({ ...opts, seed: 22 });
    devices.push(b);
    await b.waitFor("connected");
    expect(b.stats().nextSeq).toBeGreaterThan(lastSeqBefore);
    await waitFor("backlog delivered", () => b.stats().acked >= backlog);
    // Every batch the first boot made reached the cloud: none lost to the cut or the crash.
    const batchSeqs = new Set(seen.map((s) => s.env.telemetry!.batchSeq));
    for (let i = 1; i <= madeBefore; i++) expect(batchSeqs.has(i), `batch ${i} of ${madeBefore}`).toBe(true);
    await b.stop();
  });

  it("runs a small fleet with aggregate stats", async () => {
    const seen = collector(nc, "xsfleet.v1.dev.*.hello");
    await nc.flush();
    const fleet = await startSimFleet({ devices: 4, actuators: 1, idPrefix: "fleet-", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "fleet"), speedup: 300, heartbeatIntervalMs: 300, seed: 5 });
    try {
      await waitFor("all connected", () => fleet.stats().connected === 4);
      await waitFor("4 hellos", () => new Set(seen.map((s) => s.env.deviceId)).size === 4);
      expect(fleet.devices.map((d) => d.deviceId)).toEqual(["fleet-0", "fleet-1", "fleet-2", "fleet-3"]);
      expect(fleet.device("fleet-3")!.role).toBe("actuator");
      await waitFor("telemetry acked", () => fleet.stats().acked > 0);
      const st = fleet.stats();
      expect(st.devices).toBe(4);
      expect(st.published).toBe(st.perDevice.reduce((a, s) => a + s.published, 0));
    } finally {
      await fleet.stop();
    }
  });

  it("reconnects after nats-server restarts and delivers what it buffered meanwhile", async () => {
    const deviceId = "simdev-restart";
    const dev = await startSimDevice({
      deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), speedup: 500, sampleIntervalMs: 20,
      batchPointsMax: 8, heartbeatIntervalMs: 1_000, backoff: { baseMs: 50, capMs: 300 }, connectTimeoutMs: 1_000, seed: 31,
      outbox: { receiptTimeoutMs: 500, receiptTimeoutCapMs: 2_000 },
    });
    devices.push(dev);
    await dev.waitFor("connected");
    await nc.close();
    await nats.stopNode(0);
    await waitFor("disconnected", () => !dev.stats().connected);
    await waitFor("a backlog", () => dev.stats().outboxDepth >= 2);
    await nats.startNode(0);
    nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1 });
    const cloud = await startNatsReceiptCloud(nc, deviceId, { auto: true }); // the device forgets only what receipts name
    await waitFor("reconnected", () => dev.stats().connected && dev.stats().connects >= 2, 30_000);
    await waitFor("backlog drained", () => dev.stats().outboxDepth <= 1, 30_000);
    cloud.close();
    expect(dev.stats().counters.reconnects).toBeGreaterThanOrEqual(1);
    expect(dev.stats().dropped).toBe(0);
  });
});
