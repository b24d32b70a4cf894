// TLS on the broker's NATS and MQTT listeners with a local CA
// (cloud/security/tls.ts, `xsfleet up --tls`): clients that verify against
// that CA connect — the firmware on the host port included — and clients
// given another CA are refused before any credential is sent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { connectionOptions } from "../../../cloud/nats";
import { CredentialIssuer, ensureLocalTls, loadSigningTrust, type LocalTls } from "../../../cloud/security";
import { startSimDevice } from "../../../firmware/host/sim-device";
import { startNats, type NatsCluster } from "../../harness/nats";
import { mqttProbe, refused } from "./mqtt-probe";

describe("TLS with a local CA", () => {
  let nats: NatsCluster;
  let wrong: LocalTls;
  let issuer: CredentialIssuer;
  const dirs: string[] = [];

  beforeAll(async () => {
    nats = await startNats({ secure: true, tls: true });
    const d = mkdtempSync(path.join(tmpdir(), "xsfleet-wrong-ca-"));
    dirs.push(d);
    wrong = ensureLocalTls(d);
    issuer = new CredentialIssuer(loadSigningTrust(nats.trust!.dir));
  });

  afterAll(async () => {
    await nats?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("makes a CA and a server certificate that names the local hosts, served as a chain", () => {
    const tls = nats.tls!;
    const chain = readFileSync(tls.certFile, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(chain).toHaveLength(2);
    const server = new X509Certificate(chain[0]!);
    const ca = new X509Certificate(readFileSync(tls.caFile));
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(server.subjectAltName).toContain("DNS:localhost");
    // Made once: a second call keeps the same CA.
    expect(readFileSync(ensureLocalTls(tls.dir).caFile, "utf8")).toBe(readFileSync(tls.caFile, "utf8"));
  });

  it("accepts MQTT clients that verify with the CA and refuses those that trust another CA", async () => {
    const url = nats.nodes[0]!.mqttUrl;
    expect(url).toMatch(/^mqtts:/);
    const login = { clientId: "tls-1", username: "tls-1", password: issuer.device("tls-1", 600).jwt };
    const ok = await mqttProbe(url, { ...login, ca: readFileSync(nats.tls!.caFile) });
    await ok.end();
    expect(await refused(mqttProbe(url, { ...login, ca: readFileSync(wrong.caFile) }))).toMatch(/self[- ]signed|unable to verify|certificate/i);
    // Plain MQTT on the TLS port does not get a CONNACK.
    expect(await refused(mqttProbe(url.replace("mqtts:", "mqtt:"), login))).not.toBeNull();
  });

  it("accepts NATS clients that verify with the CA and refuses those that trust another CA", async () => {
    const base = connectionOptions({ servers: nats.servers, name: "tls-nats", credsFile: nats.creds("admin"), tls: { caFile: nats.tls!.caFile } });
    const nc = await connect({ ...base, waitOnFirstConnect: false, maxReconnectAttempts: 0 });
    await nc.flush();
    await nc.close();
    await expect(connect({ ...base, tls: { caFile: wrong.caFile }, waitOnFirstConnect: false, maxReconnectAttempts: 0 }))
      .rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it("runs the device firmware over mqtts:// on the host port, verifying the broker", async () => {
    const d = mkdtempSync(path.join(tmpdir(), "xsfleet-tls-dev-"));
    dirs.push(d);
    const dev = await startSimDevice({
      deviceId: "tls-2", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: d, username: "tls-2", password: issuer.device("tls-2", 600).jwt,
      tls: { ca: readFileSync(nats.tls!.caFile) }, heartbeatIntervalMs: 60_000,
    });
    try {
      await dev.waitFor("connected", 20_000);
    } finally {
      await dev.stop();
    }
  });
});
