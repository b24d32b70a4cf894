// The broker half of "one writer per device" (docs/delivery.md "Broker",
// "Streams and consumers") against real nats-server 2.9.10: an MQTT publish
// lands in its device's partition subject and in XSF_UP (open mode with
// config mappings, operator mode with the FLEET account JWT's mappings);
// the MQTT will is mapped in open mode but not in operator mode (captured on
// its own subject, for the will relay); a publish
// larger than $MQTT_msgs' limit is refused before the PUBACK (connection
// closed) and stored nowhere, while one that fits is PUBACKed and stored;
// in operator mode the device's publish permission is checked on the
// mapped subject (a credential allowed only the unmapped subject is denied).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import mqtt from "mqtt";
import { connectNats } from "../../../cloud/nats";
import {
  admitAllDevices, ensureIngestStreams, IngestStream, mqttHeaderSlackBytes, mqttMessagesStream, relayedWillMsgId, startIngestRole, WillRelayHeader, willsConsumerName,
} from "../../../cloud/ingest";
import { ControlStateMachine } from "../../../cloud/control";
import { DeviceStateStore } from "../../../cloud/state";
import { encodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import { localProposer } from "../../harness/local-proposer";
import { helloEnvelope, quietLog, statusEnvelope } from "./helpers";
import { ConnectionType, CredentialIssuer, deviceSubscriptionsMax, encodeUserJwt, KeyPair, KeyType, loadSigningTrust, devicePermissions } from "../../../cloud/security";
import { deviceSubject, partitionedUplinkSubject } from "../../../cloud/subjects";
import { devicePartition, deviceTopic, Uplink } from "../../../shared/topics";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { mqttProbe, type Probe } from "../security/mqtt-probe";

const partitions = 16;
const messageBytesMax = 1024;

async function lastOn(jsm: JetStreamManager, subject: string): Promise<Uint8Array | null> {
  try {
    return (await jsm.streams.getMessage(IngestStream.Uplinks, { last_by_subj: subject }))?.data ?? null;
  } catch {
    return null;
  }
}

async function uplinkCount(jsm: JetStreamManager): Promise<number> {
  return (await jsm.streams.info(IngestStream.Uplinks)).state.messages;
}

/** Publishes at QoS 1: "puback", or "closed" when the server dropped the connection instead. */
async function publishOutcome(p: Probe, topic: string, bytes: number): Promise<"puback" | "closed"> {
  return Promise.race([p.publish(topic, "x".repeat(bytes)).then(() => "puback" as const), p.closed.then(() => "closed" as const)]);
}

/** Connects with a will on its status topic, then loses the network (no DISCONNECT): the broker publishes the will. */
async function dieWithWill(url: string, id: string, password?: string, before?: Uint8Array): Promise<void> {
  const c = mqtt.connect(url, {
    protocolVersion: 4, clientId: id, clean: true, reconnectPeriod: 0, keepalive: 1, ...(password ? { username: id, password } : {}),
    will: { topic: deviceTopic(id, Uplink.Status), payload: Buffer.from(before ? encodeEnvelope(statusEnvelope(id, 0, false)) : "gone"), qos: 1, retain: false },
  });
  await new Promise<void>((r, j) => { c.once("connect", () => r()); c.once("error", j); });
  if (before) await c.publishAsync(deviceTopic(id, Uplink.Hello), Buffer.from(before), { qos: 1 });
  c.stream.destroy();
  c.end(true);
}

describe("open broker: partition mapping, will, oversized publishes", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startNats({ partitions });
    nc = await connectNats({ servers: nats.servers, name: "test" });
    jsm = await jetstreamManager(nc);
    await ensureIngestStreams(jsm, { replicas: 1, messageBytesMax });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("maps an MQTT publish into its device's partition; XSF_UP stores it there", async () => {
    const p = await mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "d1" });
    try {
      await p.publish(deviceTopic("d1", Uplink.Telemetry), "t1");
      await p.publish(deviceTopic("d1", Uplink.Hello), "h1");
    } finally {
      await p.end();
    }
    expect(devicePartition("d1", partitions)).toBe(6);
    expect(new TextDecoder().decode((await lastOn(jsm, partitionedUplinkSubject("d1", Uplink.Telemetry, partitions)))!)).toBe("t1");
    expect(new TextDecoder().decode((await lastOn(jsm, "xsfleet.v1.p.6.dev.d1.hello"))!)).toBe("h1");
    expect(await lastOn(jsm, deviceSubject("d1", Uplink.Telemetry))).toBeNull();
  });

  it("maps the MQTT will too in open mode (the global account's mappings are known at CONNECT)", async () => {
    await dieWithWill(nats.nodes[0]!.mqttUrl, "d2");
    await waitFor("the will in XSF_UP", async () => (await lastOn(jsm, partitionedUplinkSubject("d2", Uplink.Status, partitions))) !== null);
    expect(new TextDecoder().decode((await lastOn(jsm, partitionedUplinkSubject("d2", Uplink.Status, partitions)))!)).toBe("gone");
    expect(await lastOn(jsm, deviceSubject("d2", Uplink.Status))).toBeNull();
  });

  it("refuses a publish above $MQTT_msgs' limit before the PUBACK and stores it nowhere; one that fits is PUBACKed and stored", async () => {
    const msgs = await jsm.streams.info(mqttMessagesStream);
    expect(msgs.config.max_msg_size).toBe(messageBytesMax + mqttHeaderSlackBytes);
    expect((await jsm.streams.info(IngestStream.Uplinks)).config.max_msg_size).toBe(messageBytesMax + mqttHeaderSlackBytes);
    const p = await mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "d3" });
    const before = await uplinkCount(jsm);
    // Exactly messageBytesMax, and a little above it (ingest dead-letters that one as too-large): both PUBACKed and stored.
    expect(await publishOutcome(p, deviceTopic("d3", Uplink.Telemetry), messageBytesMax)).toBe("puback");
    expect(await publishOutcome(p, deviceTopic("d3", Uplink.Heartbeat), messageBytesMax + 8)).toBe("puback");
    await waitFor("both stored", async () => (await uplinkCount(jsm)) === before + 2);
    // Above the slack: the server closes the connection instead of PUBACKing.
    expect(await publishOutcome(p, deviceTopic("d3", Uplink.Telemetry), messageBytesMax + mqttHeaderSlackBytes + 1)).toBe("closed");
    const big = await mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "d4" });
    expect(await publishOutcome(big, deviceTopic("d4", Uplink.Telemetry), 70 * 1024)).toBe("closed");
    // A later publish from another client proves the server went on: nothing oversized was stored meanwhile.
    const q = await mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "d5" });
    await q.publish(deviceTopic("d5", Uplink.Telemetry), "after");
    await q.end();
    await waitFor("the later publish stored", async () => (await lastOn(jsm, partitionedUplinkSubject("d5", Uplink.Telemetry, partitions))) !== null);
    expect(await uplinkCount(jsm)).toBe(before + 3);
  });
});

describe("upgrading from the per-kind streams", () => {
  it("refuses to create XSF_UP over a legacy stream, naming what to delete", async () => {
    const nats = await startNats({ partitions });
    const nc = await connectNats({ servers: nats.servers, name: "test" });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "XSF_HELLO", subjects: ["xsfleet.v1.dev.*.hello", "xsfleet.v1.dev.*.status"] });
      await expect(ensureIngestStreams(jsm, { replicas: 1, messageBytesMax })).rejects.toThrow(/ensuring stream XSF_UP: .*earlier release.*XSF_TELE\/XSF_HB\/XSF_HELLO\/XSF_CTR\/XSF_ACK/);
    } finally {
      await nc.close();
      await nats.stop();
    }
  });
});

describe("operator-mode broker: mappings from the FLEET account JWT, permissions on the mapped subject", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let issuer: CredentialIssuer;
  let fleetSigning: KeyPair;
  let fleet: string;

  beforeAll(async () => {
    nats = await startNats({ secure: { partitions } });
    const trust = loadSigningTrust(nats.trust!.dir);
    issuer = new CredentialIssuer(trust);
    fleetSigning = trust.fleetSigning;
    fleet = trust.info.fleet;
    nc = await connectNats({ servers: nats.servers, name: "observer", credsFile: nats.observerCreds() });
    jsm = await jetstreamManager(nc);
    await ensureIngestStreams(jsm, { replicas: 1, messageBytesMax });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("maps a device's MQTT publish into its partition; a credential allowed only the unmapped subject is denied", async () => {
    const a = await mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "op-a", username: "op-a", password: issuer.device("op-a", 600).jwt });
    try {
      await a.publish(deviceTopic("op-a", Uplink.Telemetry), "mapped");
    } finally {
      await a.end();
    }
    await waitFor("op-a's telemetry in its partition", async () => (await lastOn(jsm, partitionedUplinkSubject("op-a", Uplink.Telemetry, partitions))) !== null);
    // The same device with the permissions of an unmapped broker (its own xsfleet.v1.dev.<id>.* only).
    const user = KeyPair.create(KeyType.User);
    const unmapped = devicePermissions("op-b", null);
    const jwt = encodeUserJwt({
      name: "op-b", subject: user.publicKey, bearer: true, connectionTypes: [ConnectionType.Mqtt], subsMax: deviceSubscriptionsMax,
      expiresS: Math.floor(Date.now() / 1000) + 600, issuerAccount: fleet, permissions: { pub: unmapped.pub, sub: unmapped.sub },
    }, fleetSigning);
    const b = await mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "op-b", username: "op-b", password: jwt });
    try {
      await b.publish(deviceTopic("op-b", Uplink.Telemetry), "denied"); // PUBACKed, then dropped: nats-server 2.9 checks the mapped subject
      await b.publish(deviceTopic("op-b", Uplink.Heartbeat), "denied too");
    } finally {
      await b.end();
    }
    // A later accepted publish orders the check: had op-b's been delivered, it would be stored by now.
    const c = await mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "op-c", username: "op-c", password: issuer.device("op-c", 600).jwt });
    await c.publish(deviceTopic("op-c", Uplink.Telemetry), "later");
    await c.end();
    await waitFor("op-c stored", async () => (await lastOn(jsm, partitionedUplinkSubject("op-c", Uplink.Telemetry, partitions))) !== null);
    expect(await lastOn(jsm, partitionedUplinkSubject("op-b", Uplink.Telemetry, partitions))).toBeNull();
    expect(await lastOn(jsm, deviceSubject("op-b", Uplink.Telemetry))).toBeNull();
  });

  it("does not map the MQTT will (2.9.10 reads the mapping flag before the JWT binds the account): it arrives on xsfleet.v1.dev.<id>.status", async () => {
    await dieWithWill(nats.nodes[0]!.mqttUrl, "op-d", issuer.device("op-d", 600).jwt);
    await waitFor("the will in XSF_UP", async () => (await lastOn(jsm, deviceSubject("op-d", Uplink.Status))) !== null);
    expect(await lastOn(jsm, partitionedUplinkSubject("op-d", Uplink.Status, partitions))).toBeNull();
  });

  it("ingest relays the unmapped will into its partition (Xsf-Orig-Seq, Nats-Msg-Id will-<seq>); its owner applies it: offline by status", async () => {
    const role = await startIngestRole({ admission: admitAllDevices, nc, nodeId: "ingest-op", log: quietLog, control: localProposer(new ControlStateMachine()), config: { partitions, messageBytesMax } });
    try {
      const id = "op-w";
      await dieWithWill(nats.nodes[0]!.mqttUrl, id, issuer.device(id, 600).jwt, encodeEnvelope(helloEnvelope(id, 1, 60_000)));
      const store = await DeviceStateStore.open(nc);
      await waitFor("offline by the relayed will", async () => (await store.getDeviceState(id))?.presence.state === "offline");
      expect((await store.getDeviceState(id))?.presence.source).toBe("status");
      expect(role.stats().willsRelayed).toBeGreaterThanOrEqual(1);
      const orig = await jsm.streams.getMessage(IngestStream.Uplinks, { last_by_subj: deviceSubject(id, Uplink.Status) });
      const relayed = await jsm.streams.getMessage(IngestStream.Uplinks, { last_by_subj: partitionedUplinkSubject(id, Uplink.Status, partitions) });
      expect(relayed!.header.get(WillRelayHeader.OrigSeq)).toBe(String(orig!.seq));
      expect(relayed!.header.get("Nats-Msg-Id")).toBe(relayedWillMsgId(orig!.seq));
      const c = await jsm.consumers.info(IngestStream.Uplinks, willsConsumerName);
      expect(c.num_pending + c.num_ack_pending).toBe(0);
    } finally {
      await role.stop();
    }
  });
});
