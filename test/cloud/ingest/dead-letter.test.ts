// Bad input: each malformed, oversized, truncated or inconsistent message is
// dead-lettered with its reason in headers, counted by reason, acked, and the
// good messages around it are all applied. A message whose handling throws
// at every delivery is dead-lettered `poison` at the consumer's last
// delivery (max_deliver), with the error — never redelivered forever — and
// the good messages of the same device around it are applied.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { startNats, type NatsCluster } from "../../harness/nats";
import { Registry } from "prom-client";
import { admitAllDevices, registerIngestMetrics, startIngestRole, type IngestRole } from "../../../cloud/ingest";
import { DlqHeader, DlqReason } from "../../../cloud/records";
import { DeviceStateStore } from "../../../cloud/state";
import { encodeEnvelope, createEnvelope, CounterKind, Encoding } from "../../../shared/proto/xsfleet.gen";
import { waitFor } from "../../harness/wait";
import { TestDevice, heartbeatEnvelope, quietLog, readStream, telemetryEnvelope } from "./helpers";
import { localProposer } from "../../harness/local-proposer";
import { ControlStateMachine } from "../../../cloud/control";
import { partitionConsumerName } from "../../../cloud/ingest";
import { devicePartition } from "../../../shared/topics";

const partitions = 16;
const maxDeliver = 3;
/** Every state write of this device throws: its telemetry can never be recorded. */
const poisonDevice = "dev-poison";

describe("ingest dead-letters bad input and keeps going", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let role: IngestRole;

  beforeAll(async () => {
    nats = await startNats({ partitions });
    nc = await connect({ servers: nats.servers });
    js = jetstream(nc);
    role = await startIngestRole({
      nc, nodeId: "ingest-dlq", log: quietLog, control: localProposer(new ControlStateMachine()), admission: admitAllDevices,
      config: { messageBytesMax: 4096, pointsPerBatchMax: 100, batchMax: 16, prefetchMax: 32, maxAckPending: 64, maxDeliver },
      faults: { beforeCas: (id) => { if (id === poisonDevice) throw new Error(`injected: ${poisonDevice} cannot be written`); } },
    });
  });
  afterAll(async () => {
    await role?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it("routes each kind of bad message to XSF_DLQ with its reason", async () => {
    const id = "dev-bad";
    const dev = await TestDevice.connect(nats.nodes[0]!.mqttUrl, id);
    const good = (seq: number) => dev.send(telemetryEnvelope(id, seq, 10));
    const tele = (bytes: Uint8Array) => dev.sendRaw("tele", bytes);
    const valid = encodeEnvelope(telemetryEnvelope(id, 1000, 10));
    const corruptPayload = telemetryEnvelope(id, 1001, 10);
    corruptPayload.telemetry!.payload = corruptPayload.telemetry!.payload.slice(0, 5);
    const wrongEncoding = telemetryEnvelope(id, 1002, 10);
    wrongEncoding.telemetry!.encoding = Encoding.ENCODING_GORILLA;
    const badCounter = createEnvelope({ deviceId: id, seq: 1003, counters: { counters: [{ name: "c", kind: CounterKind.COUNTER_KIND_G, state: new Uint8Array([5, 1]) }], delta: false } });
    const trailing = telemetryEnvelope(id, 1004, 10);
    trailing.telemetry!.payload = new Uint8Array([...trailing.telemetry!.payload, 0xff, 0xff, 0xff, 0xff]);

    await good(1);
    await tele(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])); // bad varint
    await good(2);
    await tele(valid.slice(0, Math.floor(valid.length / 2))); // truncated envelope
    await tele(new Uint8Array(4100).fill(7)); // oversized, yet within $MQTT_msgs' slack (larger is refused before the PUBACK: partitions.broker.test.ts)
    await good(3);
    await tele(encodeEnvelope(telemetryEnvelope("someone-else", 5, 10))); // device mismatch
    await tele(encodeEnvelope(heartbeatEnvelope(id, 6, 1))); // heartbeat body on the telemetry topic
    await tele(encodeEnvelope(telemetryEnvelope(id, 7, 200))); // more points than pointsPerBatchMax
    await tele(encodeEnvelope(corruptPayload));
    await tele(encodeEnvelope(wrongEncoding));
    await tele(encodeEnvelope(trailing));
    await dev.sendRaw("ctr", encodeEnvelope(badCounter));
    await good(4);
    await tele(encodeEnvelope({ ...telemetryEnvelope(id, 8, 10), seq: 0 })); // seq 0
    await good(2 ** 31); // far beyond the device's highest: quarantined (seq-jump)...
    await good(10); // ...and changes nothing: later seqs are applied
    await good(5001);

    const store = await DeviceStateStore.open(nc);
    const st = await waitFor("good batches applied", async () => {
      const s = await store.getDeviceState(id);
      return s?.telemetry.batches === 6 ? s : null;
    });
    expect(st.telemetry.points).toBe(60);

    const expected: Record<string, number> = {
      [DlqReason.BadEnvelope]: 2,
      [DlqReason.TooLarge]: 1,
      [DlqReason.DeviceMismatch]: 1,
      [DlqReason.WrongBody]: 1,
      [DlqReason.LimitExceeded]: 1,
      [DlqReason.BadPayload]: 2,
      [DlqReason.BadEncoding]: 1,
      [DlqReason.BadCounter]: 1,
      [DlqReason.BadSeq]: 1,
      [DlqReason.SeqJump]: 1,
    };
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    await waitFor("all dead letters counted", () => role.stats().deadLetters === total);
    expect(role.stats().deadLettersByReason).toEqual(expected);

    const dlq = await readStream(js, "XSF_DLQ", "xsfleet.v1.dlq.>");
    expect(dlq).toHaveLength(total);
    const byReason: Record<string, number> = {};
    for (const m of dlq) {
      const reason = m.headers!.get(DlqHeader.Reason);
      byReason[reason] = (byReason[reason] ?? 0) + 1;
      expect(m.subject).toBe(`xsfleet.v1.dlq.${reason}`);
      expect(m.headers!.get(DlqHeader.Detail).length).toBeGreaterThan(0);
      expect(m.headers!.get(DlqHeader.Subject)).toMatch(/^xsfleet\.v1\.p\.[0-9]+\.dev\.dev-bad\.(tele|ctr)$/);
      expect(Number(m.headers!.get(DlqHeader.StreamSeq))).toBeGreaterThan(0);
    }
    expect(byReason).toEqual(expected);
    const oversized = dlq.find((m) => m.headers!.get(DlqHeader.Reason) === DlqReason.TooLarge)!;
    expect(oversized.data.length).toBe(4100); // the original bytes are kept
    expect(oversized.headers!.get(DlqHeader.Detail)).toMatch(/4100 bytes > messageBytesMax 4096/);

    // The same counts on the Prometheus view.
    const registry = new Registry();
    registerIngestMetrics(registry, () => role.stats());
    const text = await registry.metrics();
    expect(text).toContain(`xsfleet_ingest_dead_letters_total{node="ingest-dlq",reason="too-large"} 1`);
    expect(text).toContain(`xsfleet_ingest_dead_letters_total{node="ingest-dlq",reason="bad-envelope"} 2`);
    expect(text).toMatch(/xsfleet_ingest_points_total\{node="ingest-dlq"\} 60/);

    // Nothing is left pending: every message was acked.
    const jsm = await js.jetstreamManager();
    await waitFor("the device's partition consumer drained", async () => {
      const a = await jsm.consumers.info("XSF_UP", partitionConsumerName(devicePartition(id, partitions)));
      return a.num_pending + a.num_ack_pending === 0;
    });
    await dev.close();
  });

  it("dead-letters a message that fails at every delivery as poison at max_deliver, with the error, and drains its partition", async () => {
    const id = poisonDevice;
    const before = role.stats().deadLettersByReason[DlqReason.Poison] ?? 0;
    const dev = await TestDevice.connect(nats.nodes[0]!.mqttUrl, id);
    await dev.send(telemetryEnvelope(id, 1, 10));
    await dev.send(heartbeatEnvelope(id, 2, 1)); // a state write too: fails as well
    await dev.close();
    await waitFor("both dead-lettered as poison", () => (role.stats().deadLettersByReason[DlqReason.Poison] ?? 0) - before === 2, 60_000);
    const dlq = (await readStream(js, "XSF_DLQ", `xsfleet.v1.dlq.${DlqReason.Poison}`)).filter((m) => m.headers!.get(DlqHeader.Subject).includes(`.dev.${id}.`));
    expect(dlq).toHaveLength(2);
    for (const m of dlq) expect(m.headers!.get(DlqHeader.Detail)).toContain(`injected: ${id} cannot be written`);
    const jsm = await js.jetstreamManager();
    await waitFor("its partition consumer drained", async () => {
      const c = await jsm.consumers.info("XSF_UP", partitionConsumerName(devicePartition(id, partitions)));
      return c.num_pending + c.num_ack_pending === 0;
    });
    // Each was delivered exactly max_deliver times: the server never redelivered it again.
    expect(role.stats().redeliveries).toBeGreaterThanOrEqual(2 * (maxDeliver - 1));
  }, 90_000);

  it("rejects a bad config with a message naming each problem", async () => {
    await expect(startIngestRole({ admission: admitAllDevices, control: localProposer(new ControlStateMachine()), nc, nodeId: "x", log: quietLog, config: { batchMax: 0, deviceBurst: 3, bogus: 1 } })).rejects.toThrow(
      /ingest\.batchMax: expected an integer in 1\.\.10000, got 0[\s\S]*ingest\.bogus: unknown setting[\s\S]*ingest\.deviceBurst \(3\) must be >= the firmware outbox capacity/,
    );
  });
});
