// End-to-end confirmation against a real nats-server (docs/delivery.md): a
// device publishes telemetry over MQTT and gets receipts on its rcpt
// downlink confirming exactly its seqs; a resend is confirmed again without
// a second apply; the registry (KV, watched by the gate) decides who is
// admitted: an unregistered device's data is dead-lettered `unregistered`,
// with no state and no receipt; a flooding device is rate-limited (no
// effect, no receipt) without slowing another device.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import mqtt, { type MqttClient } from "mqtt";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { Admission, startIngestRole, type IngestRole } from "../../../cloud/ingest";
import { DlqHeader } from "../../../cloud/records";
import { KvDeviceRegistry, kvAdmissionCache, DeviceLifecycle, type AdmissionCache } from "../../../cloud/registry";
import { DeviceStateStore } from "../../../cloud/state";
import { decodeReceiptEnvelope, checkReceipt, ReceiptVerdict } from "../../../firmware/device/receipts";
import { AckStatus, createCommandAck, createEnvelope, encodeEnvelope, type Receipt } from "../../../shared/proto/xsfleet.gen";
import { deviceTopic, Downlink } from "../../../shared/topics";
import { quietLog, readStream, telemetryEnvelope } from "./helpers";
import { localProposer } from "../../harness/local-proposer";
import { ControlStateMachine } from "../../../cloud/control";

const epoch = 0x5eed;

describe("receipts and the registry gate (real nats-server)", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let role: IngestRole;
  let gate: AdmissionCache;
  let registry: KvDeviceRegistry;

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    nc = await connect({ servers: nats.servers });
    registry = await KvDeviceRegistry.open(nc, { replicas: 1 });
    gate = kvAdmissionCache(nc, quietLog);
    role = await startIngestRole({
      control: localProposer(new ControlStateMachine()),
      // 1 message/s after a burst of 256 (the smallest burst the settings allow: a full firmware outbox).
      nc, nodeId: "ingest-rcpt", log: quietLog, config: { ackWaitMs: 2_000, deviceRatePerSec: 1, deviceBurst: 256 },
      admission: { check: async (id) => { const lc = await gate.check(id); return lc === null ? Admission.Unregistered : lc === DeviceLifecycle.Decommissioned ? Admission.Decommissioned : Admission.Admitted; } },
    });
  });
  afterAll(async () => {
    await role?.stop();
    gate?.stop();
    await nc?.close();
    await nats?.stop();
  });

  /** An MQTT device subscribed to its rcpt downlink (QoS 0), collecting receipts. */
  async function device(id: string): Promise<{ client: MqttClient; receipts: Receipt[]; send(seq: number, settledBelow: number): Promise<void> }> {
    const client = mqtt.connect(nats.nodes[0]!.mqttUrl, { protocolVersion: 4, clientId: id, clean: true, keepalive: 5, reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => { client.once("connect", () => resolve()); client.once("error", reject); });
    const receipts: Receipt[] = [];
    client.on("message", (_t, payload) => { receipts.push(decodeReceiptEnvelope(new Uint8Array(payload)).receipt!); });
    await client.subscribeAsync(deviceTopic(id, Downlink.Receipt), { qos: 0 });
    return {
      client, receipts,
      send: async (seq, settledBelow) => {
        const env = { ...telemetryEnvelope(id, seq, 5), epoch, settledBelow };
        await client.publishAsync(`xsfleet/v1/dev/${id}/tele`, Buffer.from(encodeEnvelope(env)), { qos: 1 });
      },
    };
  }

  const confirmedSeqs = (rs: readonly Receipt[]): number[] => {
    const out: number[] = [];
    for (const r of rs) for (const g of r.confirmed) for (let s = g.first; s <= g.last; s++) out.push(s);
    return out.sort((a, b) => a - b);
  };

  it("confirms exactly the seqs a registered device sent; a resend is confirmed again, not applied again", async () => {
    const id = "rcpt-dev-1";
    await registry.register(id);
    const dev = await device(id);
    try {
      for (let seq = 1; seq <= 5; seq++) await dev.send(seq, 1);
      await waitFor("receipts for seqs 1-5", () => confirmedSeqs(dev.receipts).length >= 5);
      expect(confirmedSeqs(dev.receipts)).toEqual([1, 2, 3, 4, 5]);
      for (const r of dev.receipts) {
        expect(r.epoch).toBe(epoch);
        expect(r.rejected).toEqual([]);
        expect(checkReceipt(r, epoch, 6).verdict).toBe(ReceiptVerdict.Apply);
      }
      const store = await DeviceStateStore.open(nc);
      const st = await waitFor("state with 5 batches", async () => { const s = await store.getDeviceState(id); return s?.telemetry.batches === 5 ? s : null; });
      expect(st.telemetry.points).toBe(25);

      // The receipt for 3 was "lost": the device resends it (same bytes and settled_below).
      const before = dev.receipts.length;
      await dev.send(3, 1);
      await waitFor("a receipt for the resend", () => dev.receipts.length > before);
      expect(confirmedSeqs(dev.receipts.slice(before))).toEqual([3]);
      const stats = role.stats();
      expect(stats.duplicates).toBeGreaterThanOrEqual(1);
      expect((await store.getDeviceState(id))?.telemetry).toMatchObject({ batches: 5, points: 25 });
      const outs = await readStream(jetstream(nc), "XSF_OUT", `xsfleet.v1.out.${id}.telemetry`);
      expect(outs.length).toBe(5);
      expect(stats.receiptsPublished).toBeGreaterThanOrEqual(2);
    } finally {
      await dev.client.endAsync();
    }
  });

  it("confirms a command ack (recorded once, never dead-lettered); cloud/commands applies it from its own consumer", async () => {
    const id = "rcpt-ack-1";
    await registry.register(id);
    const dev = await device(id);
    try {
      const ack = createEnvelope({
        schemaVersion: 1, deviceId: id, seq: 1, epoch, settledBelow: 1,
        commandAck: createCommandAck({ commandId: "c-1", status: AckStatus.ACK_STATUS_OK, resultJson: "{}", duplicate: false }),
      });
      const dlqBefore = role.stats().deadLetters;
      await dev.client.publishAsync(`xsfleet/v1/dev/${id}/ack`, Buffer.from(encodeEnvelope(ack)), { qos: 1 });
      await waitFor("a receipt for the ack", () => confirmedSeqs(dev.receipts).includes(1));
      await dev.client.publishAsync(`xsfleet/v1/dev/${id}/ack`, Buffer.from(encodeEnvelope(ack)), { qos: 1 });
      await waitFor("a receipt for the resent ack", () => confirmedSeqs(dev.receipts).filter((q) => q === 1).length >= 2);
      expect(role.stats().deadLetters).toBe(dlqBefore);
      expect(dev.receipts.every((r) => r.rejected.length === 0)).toBe(true);
    } finally {
      await dev.client.endAsync();
    }
  });

  it("dead-letters an unregistered device's data as `unregistered`: no state, no receipt; and a decommissioned one's", async () => {
    const ghost = "rcpt-ghost-99";
    const dev = await device(ghost);
    try {
      await dev.send(1, 1);
      await dev.send(2, 1);
      await waitFor("two unregistered dead letters", () => (role.stats().deadLettersByReason.unregistered ?? 0) >= 2);
      const dlq = await readStream(jetstream(nc), "XSF_DLQ", "xsfleet.v1.dlq.unregistered");
      expect(dlq.filter((m) => m.headers?.get(DlqHeader.Subject)?.includes(ghost)).length).toBe(2);
      const store = await DeviceStateStore.open(nc);
      expect(await store.getDeviceState(ghost)).toBeNull();
      expect(dev.receipts).toEqual([]);

      // Registered now (through the registry's KV: the gate's watch or lookup sees it): admitted.
      await registry.register(ghost);
      await dev.send(3, 1);
      await waitFor("the registered device's state", async () => (await store.getDeviceState(ghost))?.telemetry.batches === 1);
      await registry.decommission(ghost);
      await waitFor("the gate saw the decommission", async () => (await gate.check(ghost)) === DeviceLifecycle.Decommissioned);
      await dev.send(4, 1);
      await waitFor("a decommissioned dead letter", () => (role.stats().deadLettersByReason.decommissioned ?? 0) >= 1);
      expect((await store.getDeviceState(ghost))?.telemetry.batches).toBe(1);
    } finally {
      await dev.client.endAsync();
    }
  });

  it("rate-limits a flooding device: over the burst no effect and no receipt; another device is not slowed", async () => {
    const flood = "rcpt-flood-1";
    const calm = "rcpt-calm-1";
    await registry.register(flood);
    await registry.register(calm);
    const f = await device(flood);
    const c = await device(calm);
    try {
      const n = 300;
      await Promise.all(Array.from({ length: n }, (_, i) => f.send(i + 1, 1)));
      await c.send(1, 1);
      await waitFor("the calm device confirmed", () => confirmedSeqs(c.receipts).includes(1));
      const store = await DeviceStateStore.open(nc);
      const limited = await waitFor("every flood message handled", async () => {
        const st = await store.getDeviceState(flood);
        const l = role.stats().rateLimited;
        return st && st.telemetry.batches + l === n ? l : null;
      });
      expect(limited).toBeGreaterThan(0);
      expect(limited).toBeLessThan(n - 255); // the burst passed (plus what refilled meanwhile)
      await waitFor("receipts for every applied seq", () => confirmedSeqs(f.receipts).length === n - limited);
      expect(new Set(confirmedSeqs(f.receipts)).size).toBe(n - limited); // each once, the limited ones never
      expect((await store.getDeviceState(calm))?.telemetry.batches).toBe(1);
    } finally {
      await f.client.endAsync();
      await c.client.endAsync();
    }
  });
});
