// A gateway under the secured stack (nats-server in operator mode, uplink
// partitions): its bearer credential (CredentialIssuer.gateway, permissions
// from cloud/security gatewayPermissions) lets it publish on the uplink
// subjects of the children it was issued for and read their downlinks. A
// child on the gateway's allow-list but not in its credential gets nothing
// through: the broker drops those publishes (it PUBACKs them, as for any
// foreign publish, docs/security.md).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectNats } from "../../cloud/nats";
import { CredentialIssuer, loadSigningTrust } from "../../cloud/security";
import { startSimDevice, type SimDevice } from "../../firmware/host/sim-device";
import { decodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { Uplink, parseDeviceAddress } from "../../shared/topics";
import { startNats, type NatsCluster } from "../harness/nats";
import { waitFor } from "../harness/wait";
import { freePort } from "../../cloud/infra";


describe("gateway credential on the secured stack", () => {
  let nats: NatsCluster;
  let observer: NatsConnection;
  let dir: string;
  const devices: SimDevice[] = [];
  const tele = new Map<string, string[]>(); // device -> via of each telemetry seen

  beforeAll(async () => {
    nats = await startNats({ secure: { partitions: 8 } });
    const issuer = new CredentialIssuer(loadSigningTrust(nats.trust!.dir));
    observer = await connectNats({ servers: nats.servers, name: "observer", credsFile: nats.observerCreds() });
    observer.subscribe("xsfleet.>", {
      callback: (_e, m) => {
        const a = parseDeviceAddress(m.subject);
        if (a === null || a.kind !== Uplink.Telemetry) return;
        const list = tele.get(a.deviceId) ?? [];
        list.push(decodeEnvelope(m.data).via);
        tele.set(a.deviceId, list);
      },
    });
    await observer.flush();
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-star-secure-"));
    const port = await freePort();
    const credential = issuer.gateway("gw-s", ["sk-0", "sk-1"], 3600);
    const gw = await startSimDevice({
      deviceId: "gw-s", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "gw"), fsync: false,
      username: "gw-s", password: credential.jwt, relay: { port, children: ["sk-0", "sk-1", "sk-x"] },
    });
    devices.push(gw);
    await gw.waitFor("connected");
    for (const [i, id] of ["sk-0", "sk-1", "sk-x"].entries()) {
      devices.push(await startSimDevice({
        deviceId: id, brokerUrl: "mqtt://unused:1", viaGateway: { host: "127.0.0.1", port }, stateDir: path.join(dir, id), fsync: false,
        trace: { nodeId: 1 + i }, speedup: 60, sampleIntervalMs: 100, batchPointsMax: 10, batchAgeMaxMs: 1_000, keepaliveS: 5, backoff: { baseMs: 100, capMs: 1_000 },
      }));
    }
  }, 60_000);

  afterAll(async () => {
    for (const d of devices.reverse()) await d.stop();
    await observer?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("relays the credential's children, with via; the broker drops a child the credential does not name", async () => {
    await waitFor("telemetry of sk-0 and sk-1 on NATS", () => (tele.get("sk-0")?.length ?? 0) >= 3 && (tele.get("sk-1")?.length ?? 0) >= 3, 60_000);
    const x = devices[3]!;
    // sk-x is admitted by the gateway (its allow-list) and publishes: PUBACKed, never delivered.
    await waitFor("sk-x published telemetry through the gateway", () => x.stats().acked >= 3, 60_000);
    // Ordered per connection: once a later sk-0 batch is seen, sk-x's earlier ones would have been delivered.
    const before = tele.get("sk-0")!.length;
    await waitFor("another sk-0 batch", () => tele.get("sk-0")!.length > before, 60_000);
    expect(tele.get("sk-x")).toBeUndefined();
    for (const id of ["sk-0", "sk-1"]) expect(new Set(tele.get(id))).toEqual(new Set(["gw-s"]));
  }, 120_000);
});
