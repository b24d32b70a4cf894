// End-to-end confirmation against a real nats-server (MQTT listener): the
// test plays the cloud. A device whose receipts are withheld keeps its
// messages although nats-server PUBACKed them, and resends them; then it
// forgets exactly the seqs the receipts name (confirmed or rejected), keeps
// resending the others, ignores a receipt for another epoch, and drains
// once every message is receipted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startNats, type NatsCluster } from "../harness/nats";
import { until, waitFor } from "../harness/wait";
import { startSimDevice, type SimDevice } from "../../firmware/host/sim-device";
import { startNatsReceiptCloud } from "./nats-receipt-cloud";

describe("receipts over nats-server", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let dir: string;
  const devices: SimDevice[] = [];

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1 });
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-rcpt-"));
  });

  afterAll(async () => {
    for (const d of devices) d.crash();
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a device whose receipts are withheld keeps and resends; it forgets exactly what receipts name", async () => {
    const deviceId = "rcpt-nats-1";
    const cloud = await startNatsReceiptCloud(nc, deviceId, { auto: false });
    const rows = Array.from({ length: 24 }, (_, i) => ({ timeMs: 1_458_031_648_545 + i * 1_000, values: [20 + i * 0.01, 40, 180, 500] }));
    const dev = await startSimDevice({
      deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, deviceId), speedup: 500, sampleIntervalMs: 20, batchPointsMax: 4,
      heartbeatIntervalMs: 500, trace: { rows, loop: false }, outbox: { receiptTimeoutMs: 300, receiptTimeoutCapMs: 600 }, seed: 11,
    });
    devices.push(dev);
    const forgotten: string[] = [];
    dev.on("confirmed", (e) => forgotten.push(`confirmed:${e.seq}`));
    dev.on("rejected", (e) => forgotten.push(`rejected:${e.seq}`));
    const teleSeqs = (): number[] => [...new Set(cloud.seen.filter((s) => s.kind === "tele").map((s) => s.env.seq))].sort((a, b) => a - b);

    // 24 rows in batches of 4: six telemetry messages, each PUBACKed and resent while no receipt comes.
    const tele = await waitFor("six batches, each sent at least twice", () => {
      const t = teleSeqs();
      return t.length === 6 && t.every((s) => cloud.count(s) >= 2) ? t : undefined;
    });
    const held = dev.stats();
    expect(held.outboxDepth).toBe(6);
    expect(held.acked).toBeGreaterThanOrEqual(12); // every send PUBACKed; nothing left on a PUBACK
    expect(held.confirmed).toBe(0);
    expect(held.retransmits).toBeGreaterThanOrEqual(6);
    const epoch = held.epoch;
    for (const s of cloud.seen) {
      expect(s.env.epoch).toBe(epoch);
      expect(s.env.settledBelow).toBeGreaterThanOrEqual(1);
      expect(s.env.settledBelow).toBeLessThanOrEqual(s.env.seq);
    }
    // Heartbeats keep settled_below at the oldest unconfirmed message.
    const lastHb = await waitFor("a heartbeat after the six batches", () => cloud.seen.find((s) => s.kind === "hb" && s.env.seq > tele[5]!));
    expect(lastHb.env.settledBelow).toBe(tele[0]);

    // A receipt for another epoch changes nothing.
    cloud.receipt(epoch ^ 1, [[tele[0]!, tele[5]!]]);
    await until("the foreign-epoch receipt counted", () => (dev.stats().counters.rcptOtherEpoch ?? 0) === 1);
    expect(dev.stats().outboxDepth).toBe(6);

    // Confirm the first two and a heartbeat (not in the outbox), reject the third.
    cloud.receipt(epoch, [[tele[0]!, tele[1]!], [lastHb.env.seq, lastHb.env.seq]], [[tele[2]!, tele[2]!]]);
    await until("three forgotten", () => forgotten.length === 3);
    expect(forgotten).toEqual([`confirmed:${tele[0]}`, `confirmed:${tele[1]}`, `rejected:${tele[2]}`]);
    expect(dev.stats()).toMatchObject({ outboxDepth: 3, confirmed: 2, receiptRejected: 1 });
    expect(dev.stats().counters).toMatchObject({ rcptConfirmed: 2, rcptRejected: 1, rcptUnknown: 1 });

    // The others are still resent; the forgotten ones never again (two more rounds, then two more).
    const rest = tele.slice(3);
    const twoMoreRounds = async (): Promise<void> => {
      const base = rest.map((s) => cloud.count(s));
      await until("two more resend rounds", () => rest.every((s, i) => cloud.count(s) >= base[i]! + 2));
    };
    await twoMoreRounds();
    const settledCounts = tele.slice(0, 3).map((s) => cloud.count(s));
    await twoMoreRounds();
    expect(tele.slice(0, 3).map((s) => cloud.count(s))).toEqual(settledCounts);
    expect(dev.stats().outboxDepth).toBe(3);

    // Receipts flow again: everything left is confirmed and the outbox drains.
    cloud.setAuto(true);
    await until("outbox drained", () => dev.stats().outboxDepth === 0);
    expect(forgotten.slice(3).sort()).toEqual(rest.map((s) => `confirmed:${s}`).sort());
    expect(dev.stats()).toMatchObject({ confirmed: 5, receiptRejected: 1, settledBelow: dev.stats().nextSeq });
    cloud.close();
  });
});
