// Device identity enforced by the broker (docs/security.md), against a real
// nats-server 2.9 in operator mode with the full resolver and the uplink
// partition mappings in the FLEET account JWT: each device's bearer
// credential lets it publish only its own (partitioned) uplinks and read
// only its own downlinks; a revoked credential is disconnected at once and
// refused after. What reaches NATS is watched by an unrestricted observer:
// a foreign publish is PUBACKed to the device but never delivered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, jwtAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { connectNats } from "../../../cloud/nats";
import {
  CredentialIssuer, FleetAccountPublisher, RevocationKind, Revoker, TrustStore, decodeJwt, loadSigningTrust, type SigningTrust,
} from "../../../cloud/security";
import { deviceSubject, partitionedUplinkSubject } from "../../../cloud/subjects";
import { Downlink, Uplink, deviceTopic, subjectToMqttTopic } from "../../../shared/topics";
import { silentLogger } from "../../../cloud/base";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { mqttProbe, refused } from "./mqtt-probe";

const partitions = 16;

describe("device identity on nats-server in operator mode", () => {
  let nats: NatsCluster;
  let trust: SigningTrust;
  let issuer: CredentialIssuer;
  let observer: NatsConnection;
  let seen: string[];
  let mqttUrl: string;

  beforeAll(async () => {
    nats = await startNats({ secure: { partitions } });
    trust = loadSigningTrust(nats.trust!.dir);
    issuer = new CredentialIssuer(trust);
    mqttUrl = nats.nodes[0]!.mqttUrl;
    observer = await connectNats({ servers: nats.servers, name: "observer", credsFile: nats.observerCreds() });
    seen = [];
    observer.subscribe("xsfleet.>", { callback: (_e, m) => { seen.push(m.subject); } });
    await observer.flush();
  });

  afterAll(async () => {
    await observer?.close();
    await nats?.stop();
  });

  const device = (id: string) => mqttProbe(mqttUrl, { clientId: id, username: id, password: issuer.device(id, 3600).jwt });

  it("lets a device publish only its own uplinks, mapped into its partition; a foreign publish is PUBACKed and dropped", async () => {
    const a = await device("dev-a");
    try {
      // The foreign publish first, then an own one: the server handles one connection's publishes in order,
      // so once the own message is seen, the foreign one would have been delivered before it.
      await a.publish(deviceTopic("dev-b", Uplink.Telemetry), "spoofed");
      await a.publish(deviceTopic("dev-b", Uplink.Heartbeat), "spoofed");
      await a.publish(subjectToMqttTopic(partitionedUplinkSubject("dev-b", Uplink.Telemetry, partitions)), "spoofed, straight into B's partition");
      await a.publish(deviceTopic("dev-a", Uplink.Telemetry), "mine");
      const own = partitionedUplinkSubject("dev-a", Uplink.Telemetry, partitions);
      await waitFor("dev-a's own telemetry on its partitioned subject", () => seen.includes(own));
      expect(seen.filter((s) => s.includes("dev-b"))).toEqual([]);
      // Mapped by the account JWT: nothing arrives on the unmapped subject.
      expect(seen).not.toContain(deviceSubject("dev-a", Uplink.Telemetry));
    } finally {
      await a.end();
    }
  });

  it("refuses subscriptions to another device's commands and QoS 1 subscriptions (no $MQTT.sub.>)", async () => {
    const a = await device("dev-c");
    try {
      expect(await a.subscribe(deviceTopic("dev-d", Downlink.Command))).toBe(128);
      expect(await a.subscribe("xsfleet/v1/dev/+/cmd")).toBe(128);
      expect(await a.subscribe(deviceTopic("dev-c", Downlink.Config), 1)).toBe(128);
      expect(await a.subscribe(deviceTopic("dev-c", Downlink.Command))).toBe(0);
      observer.publish(deviceSubject("dev-d", Downlink.Command), "for D only");
      observer.publish(deviceSubject("dev-c", Downlink.Command), "for C");
      await waitFor("dev-c's own command", () => a.received.some((m) => m.payload === "for C"));
      expect(a.received.map((m) => m.payload)).toEqual(["for C"]);
    } finally {
      await a.end();
    }
  });

  it("delivers the will unmapped, on the device's own status subject", async () => {
    const id = "dev-w";
    // The server publishes the will of a connection dropped without DISCONNECT.
    const w = await new Promise<string>((resolve, reject) => {
      const client = mqtt.connect(mqttUrl, {
        protocolVersion: 4, clientId: id, username: id, password: issuer.device(id, 3600).jwt, reconnectPeriod: 0,
        will: { topic: deviceTopic(id, Uplink.Status), payload: Buffer.from("offline"), qos: 1, retain: true },
      });
      client.once("error", reject);
      client.once("connect", () => { client.end(true); resolve("dropped"); });
    });
    expect(w).toBe("dropped");
    await waitFor("the will on the unmapped status subject", () => seen.includes(deviceSubject(id, Uplink.Status)));
  });

  it("refuses a device credential over the NATS protocol, a credential of another trust, and garbage", async () => {
    const jwt = issuer.device("dev-e", 3600).jwt;
    // MQTT only (allowed_connection_types): the same bearer JWT over the NATS protocol is refused.
    await expect(connect({ servers: nats.servers, authenticator: jwtAuthenticator(jwt), reconnect: false })).rejects.toThrow(/Authorization|authentication/i);
    const other = await startNats({ secure: true });
    try {
      const foreign = new CredentialIssuer(loadSigningTrust(other.trust!.dir)).device("dev-e", 3600).jwt;
      expect(await refused(mqttProbe(mqttUrl, { clientId: "dev-e", username: "dev-e", password: foreign }))).toMatch(/Not authorized/);
    } finally {
      await other.stop();
    }
    expect(await refused(mqttProbe(mqttUrl, { clientId: "dev-e", username: "dev-e", password: "not-a-jwt" }))).toMatch(/Not authorized/);
    expect(await refused(mqttProbe(mqttUrl, { clientId: "dev-e", username: "dev-e" }))).toMatch(/Not authorized|Bad username/);
    const expired = issuer.device("dev-e", 60, Math.floor(Date.now() / 1000) - 3600).jwt;
    expect(decodeJwt(expired).exp).toBeLessThan(Date.now() / 1000);
    expect(await refused(mqttProbe(mqttUrl, { clientId: "dev-e", username: "dev-e", password: expired }))).toMatch(/Not authorized/);
  });

  it("disconnects a revoked device at once (account push, no reload) and refuses it after; other devices stay", async () => {
    const sysNc = await connectNats({ servers: nats.servers, name: "sys", credsFile: nats.sysCreds() });
    const admin = await connectNats({ servers: nats.servers, name: "trust-store", credsFile: nats.observerCreds() });
    const store = await TrustStore.open(admin, { replicas: 1 });
    const revoker = new Revoker({ store, publisher: new FleetAccountPublisher(sysNc, trust), revocationsMax: 16, log: silentLogger });
    try {
      await revoker.start();
      const credR = issuer.device("dev-r", 3600);
      const credS = issuer.device("dev-s", 3600);
      const r = await mqttProbe(mqttUrl, { clientId: "dev-r", username: "dev-r", password: credR.jwt });
      const s = await mqttProbe(mqttUrl, { clientId: "dev-s", username: "dev-s", password: credS.jwt });
      const t0 = performance.now();
      await revoker.revoke([{ publicKey: credR.publicKey, kind: RevocationKind.Credential, atS: Math.floor(Date.now() / 1000), expiresS: credR.expiresS, reason: "test", deviceId: "dev-r" }]);
      await r.closed;
      const closedMs = performance.now() - t0;
      expect(closedMs, "disconnected within seconds").toBeLessThan(5_000);
      expect(await refused(mqttProbe(mqttUrl, { clientId: "dev-r", username: "dev-r", password: credR.jwt }))).toMatch(/Not authorized/);
      // A second revocation in the same second keeps the first (the list is rebuilt whole each push).
      await revoker.revoke([{ publicKey: credS.publicKey, kind: RevocationKind.Credential, atS: Math.floor(Date.now() / 1000), expiresS: credS.expiresS, reason: "test", deviceId: "dev-s" }]);
      await s.closed;
      expect(await refused(mqttProbe(mqttUrl, { clientId: "dev-r", username: "dev-r", password: credR.jwt }))).toMatch(/Not authorized/);
      // Unrelated devices are untouched by pushes (no reload: nothing else is disconnected).
      const u = await device("dev-u");
      await revoker.push();
      await u.publish(deviceTopic("dev-u", Uplink.Heartbeat), "still here");
      await u.end();
      expect(revoker.stats().listSize).toBe(2);
    } finally {
      revoker.stop();
      await sysNc.close();
      await admin.close();
    }
  });
});

