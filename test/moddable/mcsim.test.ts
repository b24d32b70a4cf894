// The firmware as the Moddable SDK builds it (mcconfig, lin), running in the
// SDK's simulator (mcsim, headless) against this test's own nats-server over
// MQTT: Hello, heartbeats and telemetry arrive and decode, the telemetry
// equals what the host port sends for the same trace, a command is
// acknowledged, and a power loss (SIGKILL) keeps the outbox and the sequence
// numbers in Preference (lin: modpreferences.json in the device's directory).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startNats, type NatsCluster } from "../harness/nats";
import { moddableBuildTimeoutMs, moddableFirmware, startModdableDevice, stopModdable, type McsimDevice, type ModdableFirmware } from "../harness/moddable";
import { preferenceBytes } from "../../firmware/host/mcsim/device";
import { startSimDevice, type SimDevice } from "../../firmware/host/sim-device";
import { loadRoomClimateFile } from "../../firmware/host/room-climate";
import { roomClimateChannels, type TraceRow } from "../../firmware/sim/replay-source";
import { decodeBatch } from "../../shared/codec/batch";
import { AckStatus, Role, createCommand, createEnvelope, decodeEnvelope, encodeEnvelope, schemaVersion, type Envelope } from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceSubject } from "../../shared/topics";

interface Seen {
  subject: string;
  env: Envelope;
}

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 30_000, pollMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Same cadence for the Moddable build and the host port: 8-point batches fill long before their age limit. */
const cadence = { heartbeatIntervalMs: 500, sampleIntervalMs: 100, batchPointsMax: 8, batchAgeMaxMs: 5_000 } as const;
const speedup = 200;

/** Points of the first `n` batches, time relative to the first point, values at channel resolution. */
function points(seen: readonly Seen[], deviceId: string, batches: number): Array<[number, ...number[]]> {
  const tele = seen.filter((s) => s.env.deviceId === deviceId && s.env.telemetry !== undefined)
    .map((s) => s.env.telemetry!)
    .sort((a, b) => a.batchSeq - b.batchSeq)
    .filter((t, i, all) => i === 0 || all[i - 1]!.batchSeq !== t.batchSeq)
    .slice(0, batches);
  expect(tele.map((t) => t.batchSeq)).toEqual(Array.from({ length: batches }, (_, i) => i + 1));
  const out: Array<[number, ...number[]]> = [];
  let t0: number | undefined;
  for (const t of tele) {
    const d = decodeBatch(t.payload);
    expect(d.timestampsMs.length).toBe(t.pointCount);
    d.timestampsMs.forEach((ts, i) => {
      t0 ??= ts;
      out.push([ts - t0, ...d.channels.map((c, ci) => Math.round(c.values[i]! / roomClimateChannels[ci]!.resolution))]);
    });
  }
  return out;
}

/**
 * lin's Preference rewrites modpreferences.json whole (delete, then write) on
 * every set, so a kill inside that window loses the file; ESP32 NVS has no
 * such window. The power loss is picked at an instant when the file is
 * complete: freeze the simulator, check, kill (or thaw and try again).
 */
async function killWithPreferencesComplete(dev: McsimDevice): Promise<void> {
  await until("an instant with modpreferences.json complete", () => {
    dev.pause(true);
    try {
      dev.preferences();
      return true;
    } catch {
      dev.pause(false);
      return false;
    }
  }, 30_000, 5);
  await dev.kill();
}

describe("Moddable-built firmware in mcsim against nats-server", () => {
  let fw: ModdableFirmware;
  let nats: NatsCluster;
  let nc: NatsConnection;
  let dir: string;
  const seen: Seen[] = [];
  const devices: McsimDevice[] = [];
  const hosts: SimDevice[] = [];
  let rows: TraceRow[];
  let mqttUrl: string;

  beforeAll(async () => {
    fw = await moddableFirmware(["sensor", "actuator"]);
    nats = await startNats();
    mqttUrl = nats.nodes[0]!.mqttUrl;
    nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const sub = nc.subscribe("xsfleet.v1.dev.>");
    void (async () => {
      for await (const m of sub) {
        try {
          seen.push({ subject: m.subject, env: decodeEnvelope(m.data) });
        } catch {
          // not an envelope: asserted nowhere, ignored
        }
      }
    })();
    await nc.flush();
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-mcsim-"));
    rows = loadRoomClimateFile("location_A-measurement01.csv").get(1)!.slice(0, 600);
  }, moddableBuildTimeoutMs);

  afterAll(async () => {
    for (const h of hosts) h.crash();
    await stopModdable();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a sensor and an actuator built by mcconfig send Hello, heartbeats and telemetry equal to the host port's", async () => {
    const [sensor, actuator] = await Promise.all([
      startModdableDevice(fw, { role: "sensor", deviceId: "mc-sensor-1", mqttUrl, stateDir: path.join(dir, "mc-sensor-1"), trace: rows, settings: { ...cadence, replaySpeedup: speedup } }),
      startModdableDevice(fw, { role: "actuator", deviceId: "mc-actuator-1", mqttUrl, stateDir: path.join(dir, "mc-actuator-1"), settings: cadence }),
    ]);
    devices.push(sensor, actuator);
    const host = await startSimDevice({
      deviceId: "host-sensor-1", brokerUrl: mqttUrl, stateDir: path.join(dir, "host-sensor-1"), speedup, ...cadence, trace: { rows, loop: true }, seed: 5,
    });
    hosts.push(host);
    await sensor.waitForLine(/^xsfleet: event \{"type":"connected"/);

    for (const [id, role] of [["mc-sensor-1", Role.ROLE_SENSOR], ["mc-actuator-1", Role.ROLE_ACTUATOR]] as const) {
      const hello = await until(`${id} hello`, () => seen.find((s) => s.env.deviceId === id && s.env.hello !== undefined));
      expect(hello.subject).toBe(deviceSubject(id, "hello"));
      expect(hello.env.schemaVersion).toBe(schemaVersion);
      expect(hello.env.hello!.role).toBe(role);
      expect(hello.env.hello!.heartbeatIntervalMs).toBe(cadence.heartbeatIntervalMs);
      // Free heap on lin: the nodemcu-sized budget minus the XS heap Instrumentation reports.
      expect(hello.env.hello!.resources!.freeHeapBytes).toBeGreaterThan(0);
      expect(hello.env.hello!.resources!.freeHeapBytes).toBeLessThan(157_696);
      const hbs = await until(`${id} two heartbeats`, () => {
        const h = seen.filter((s) => s.env.deviceId === id && s.env.heartbeat !== undefined);
        return h.length >= 2 ? h : undefined;
      });
      expect(hbs[1]!.env.heartbeat!.heartbeatSeq).toBeGreaterThan(hbs[0]!.env.heartbeat!.heartbeatSeq);
      expect(hbs[0]!.env.heartbeat!.counterDigest).not.toBe(0);
    }
    const helloS = seen.find((s) => s.env.deviceId === "mc-sensor-1" && s.env.hello !== undefined)!;
    expect(helloS.env.hello!.channels.map((c) => c.name)).toEqual(roomClimateChannels.map((c) => c.name));

    await until("3 batches from each sensor", () => ["mc-sensor-1", "host-sensor-1"].every((id) => seen.filter((s) => s.env.deviceId === id && s.env.telemetry !== undefined).length >= 3));
    const fromModdable = points(seen, "mc-sensor-1", 3);
    expect(fromModdable.length).toBe(24);
    expect(fromModdable).toEqual(points(seen, "host-sensor-1", 3));
  });

  it("acknowledges a command published on its cmd subject and drives its output", async () => {
    const id = "mc-actuator-1";
    const actuator = devices.find((d) => d.deviceId === id)!;
    const cmd = encodeEnvelope(createEnvelope({
      schemaVersion, deviceId: id, seq: 1,
      command: createCommand({ commandId: "mc-cmd-1", name: "set", argsJson: "{\"on\":true}", deadlineMs: Date.now() + 120_000 }),
    }));
    // QoS 0 downlink: resend until the ack, as the cloud's command worker does.
    const ack = await until("CommandAck", () => {
      nc.publish(deviceSubject(id, Downlink.Command), cmd);
      return seen.find((s) => s.env.deviceId === id && s.env.commandAck?.commandId === "mc-cmd-1");
    });
    expect(ack.subject).toBe(deviceSubject(id, "ack"));
    expect(ack.env.commandAck!.status).toBe(AckStatus.ACK_STATUS_OK);
    expect(ack.env.commandAck!.resultJson).toBe("{\"value\":1}");
    await actuator.waitForLine(/^xsfleet: output 1$/);
  });

  it("keeps the outbox and the sequence numbers across a power loss (SIGKILL) and a restart", { timeout: 180_000 }, async () => {
    const id = "mc-sensor-1";
    let sensor = devices.find((d) => d.deviceId === id)!;
    // The broker goes away: telemetry piles up in the outbox, which Preference keeps on disk.
    await nats.stopNode(0);
    const stored = await until("3 outbox records in modpreferences.json", () => {
      let prefs: ReturnType<McsimDevice["preferences"]>;
      try {
        prefs = sensor.preferences();
      } catch {
        return undefined; // read while the device rewrites the file
      }
      const keys = Object.keys(prefs.xsfleet ?? {}).filter((k) => k.startsWith("o"));
      return keys.length >= 3 ? keys : undefined;
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; the device's last trace lines:\n${sensor.lines.slice(-30).join("\n")}`);
    });
    await killWithPreferencesComplete(sensor);
    const prefs = sensor.preferences().xsfleet!;
    const pending = Object.keys(prefs).filter((k) => k.startsWith("o")).map((k) => parseInt(k.slice(1), 36)).sort((a, b) => a - b);
    expect(pending.length).toBeGreaterThanOrEqual(stored.length);
    const mark = new DataView(preferenceBytes(prefs.seq)!.buffer); // 8 bytes LE (firmware/device/sequence.ts)
    const seqHighWater = mark.getUint32(4, true) * 2 ** 32 + mark.getUint32(0, true);
    const seenBefore = seen.filter((s) => s.env.deviceId === id);
    const maxSeqBefore = Math.max(...seenBefore.map((s) => s.env.seq), ...pending);
    expect(seqHighWater).toBeGreaterThan(maxSeqBefore);

    await nats.startNode(0);
    sensor = await startModdableDevice(fw, { role: "sensor", deviceId: id, mqttUrl, stateDir: sensor.stateDir, settings: { ...cadence, replaySpeedup: speedup } });
    devices.push(sensor);
    // Every message that was waiting in the outbox arrives after the reboot …
    await until("the stored outbox after the restart", () => pending.every((seq) => seen.some((s) => s.env.deviceId === id && s.env.seq === seq)));
    // … a new boot never reuses a seq …
    const hello = await until("Hello after the restart", () => seen.find((s) => s.env.deviceId === id && s.env.hello !== undefined && s.env.seq > maxSeqBefore));
    expect(hello.env.hello!.bootCount).toBe(2);
    // … and telemetry batches stay gapless: nothing stored was lost, no batch_seq repeats with other content.
    await until("new batches after the restart", () => seen.some((s) => s.env.deviceId === id && s.env.telemetry !== undefined && s.env.seq > hello.env.seq));
    const batchSeqs = [...new Set(seen.filter((s) => s.env.deviceId === id && s.env.telemetry !== undefined).map((s) => s.env.telemetry!.batchSeq))].sort((a, b) => a - b);
    expect(batchSeqs[0]).toBe(1);
    expect(batchSeqs.filter((b, i) => i > 0 && b !== batchSeqs[i - 1]! + 1).length).toBeLessThanOrEqual(1); // one jump: the reserved block skipped at reboot
  });
});
