// Provisioning by one-time claims, end to end on a real nats-server in
// operator mode: a cloud node with the api and provisioning roles, the real
// firmware code on the host port (firmware/device/provisioning.ts through
// startSimDevice, credential kept in its file storage), the management API
// for claims and decommission. Claims are single use, expire, can be
// revoked, are rate-limited; decommission disconnects the device and it
// cannot come back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { ApiClient } from "../../../cloud/api";
import { silentLogger } from "../../../cloud/base";
import { connectNats } from "../../../cloud/nats";
import { startCloudNode, validateConfig, type CloudNode } from "../../../cloud/node";
import { KvDeviceRegistry } from "../../../cloud/registry";
import {
  ClaimService, CredentialIssuer, FleetAccountPublisher, Revoker, TrustStore, defaultProvisioningSettings, loadSigningTrust,
} from "../../../cloud/security";
import { partitionedUplinkSubject, provisioningRequestSubject, provisioningResponseSubject } from "../../../cloud/subjects";
import { ProvisioningError, ProvisioningOp, decodeProvisioningResponse, encodeProvisioningRequest, parseClaimToken, type ProvisioningResponse } from "../../../shared/provisioning";
import { Uplink } from "../../../shared/topics";
import { ProvisioningFailed, startSimDevice, storedCredentialIn, type SimDevice } from "../../../firmware/host/sim-device";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { mqttProbe, refused } from "./mqtt-probe";

const partitions = 16;
const roles = ["api", "provisioning"] as const;

describe("provisioning with one-time claims", () => {
  let nats: NatsCluster;
  let node: CloudNode;
  let admin: NatsConnection;
  let api: ApiClient;
  let observer: NatsConnection;
  let seen: string[];
  const dirs: string[] = [];
  const devices: SimDevice[] = [];

  beforeAll(async () => {
    nats = await startNats({ secure: { partitions } });
    node = await startCloudNode(validateConfig({
      nodeId: "prov-1", roles: [...roles], nats: { servers: nats.servers, credsFile: nats.creds([...roles]) }, http: { port: null }, registry: "kv",
      trustDir: nats.trust!.dir, logLevel: "error",
    }), { processMetrics: false, log: silentLogger });
    admin = await connectNats({ servers: nats.servers, name: "admin", credsFile: nats.creds("admin") });
    api = new ApiClient(admin, { timeoutMs: 15_000 });
    observer = await connectNats({ servers: nats.servers, name: "observer", credsFile: nats.observerCreds() });
    seen = [];
    observer.subscribe("xsfleet.v1.>", { callback: (_e, m) => { seen.push(m.subject); } });
  });

  afterAll(async () => {
    for (const d of devices) d.crash();
    await admin?.close();
    await observer?.close();
    await node?.stop();
    await nats?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const stateDir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), "xsfleet-prov-"));
    dirs.push(d);
    return d;
  };
  const boot = async (deviceId: string, dir: string, claim?: string): Promise<SimDevice> => {
    const d = await startSimDevice({
      deviceId, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: dir, ...(claim ? { claim } : {}), provisionTimeoutMs: 20_000,
      heartbeatIntervalMs: 60_000, backoff: { baseMs: 100, capMs: 1_000 },
    });
    devices.push(d);
    return d;
  };
  /** Asks on a claim's request subject as a device would and returns the answer. */
  const ask = async (claimId: string, deviceId: string, op: ProvisioningOp = ProvisioningOp.Issue): Promise<ProvisioningResponse> => {
    const nonce = Math.floor(Math.random() * 1e9);
    const sub = observer.subscribe(provisioningResponseSubject(claimId), { max: 1 });
    await observer.flush();
    observer.publish(provisioningRequestSubject(claimId), encodeProvisioningRequest({ op, deviceId, nonce }));
    for await (const m of sub) return decodeProvisioningResponse(m.data)!;
    throw new Error("no answer");
  };

  it("a device flashed with a claim provisions itself, keeps its credential in flash and uses it on later boots", async () => {
    const [claim] = await api.createClaims({ deviceIds: ["gh-7"] });
    expect(claim!.state).toBe("open");
    const dir = stateDir();
    const dev = await boot("gh-7", dir, claim!.token);
    await dev.waitFor("connected", 20_000);
    // Its uplinks reach NATS on its partition (the broker mapped them), its credential is in its storage.
    await waitFor("gh-7's hello", () => seen.includes(partitionedUplinkSubject("gh-7", Uplink.Hello, partitions)));
    const cred = storedCredentialIn(dir, claim!.claimId);
    expect(cred).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect((await api.get("gh-7")).lifecycle).toBe("registered");
    await waitFor("the claim marked done", async () => (await api.listClaims()).claims.find((c) => c.claimId === claim!.claimId)?.state === "done");
    // The claim's own key is revoked with the next account push: it cannot even connect any more.
    await waitFor("the used claim refused by the broker", async () => /Not authorized/.test(
      (await refused(mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "gh-7x", username: "gh-7x", password: parseClaimToken(claim!.token)!.jwt }))) ?? ""));
    // A power cycle: same flash, same claim in the manifest; it runs on the stored credential.
    dev.crash();
    const again = await boot("gh-7", dir, claim!.token);
    await again.waitFor("connected", 20_000);
    expect(storedCredentialIn(dir)).toBe(cred);
    await again.stop();
  });

  it("refuses a reused, a revoked, an unknown and a foreign-device claim; rate-limits a claim's requests", async () => {
    const [used, bound, revoked] = await api.createClaims({ deviceIds: ["r-1", "r-2", "r-3"] });
    const usedId = parseClaimToken(used!.token)!.claimId;
    const first = await ask(usedId, "r-1");
    expect(first.ok && first.credential).toBeTruthy();
    // The same claim again from another device id, or after the device confirmed: refused.
    expect(await ask(usedId, "r-1", ProvisioningOp.Done)).toMatchObject({ ok: true });
    expect(await ask(usedId, "r-1")).toMatchObject({ ok: false, code: ProvisioningError.Used });
    expect(await ask(bound!.claimId, "not-r-2")).toMatchObject({ ok: false, code: ProvisioningError.DeviceNotAllowed });
    await api.revokeClaim(revoked!.claimId);
    expect(await ask(revoked!.claimId, "r-3")).toMatchObject({ ok: false, code: ProvisioningError.Revoked });
    expect(await refused(mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "r-3", username: "r-3", password: parseClaimToken(revoked!.token)!.jwt }))).toMatch(/Not authorized/);
    // The firmware with a revoked claim: the broker refuses it, and after a few refusals it stops trying.
    await expect(boot("r-3", stateDir(), revoked!.token)).rejects.toThrow(/claim_refused/);
    expect((await api.listClaims({ state: "revoked" })).claims.map((c) => c.claimId)).toContain(revoked!.claimId);
    // The firmware gives up on a claim the service refuses, with a clear error instead of retrying forever.
    await expect(boot("not-r-2", stateDir(), bound!.token)).rejects.toThrow(ProvisioningFailed);
    // Unknown claims: answered, then rate-limited per claim id.
    const codes: string[] = [];
    for (let i = 0; i <= defaultProvisioningSettings.claimAttemptsMax; i++) {
      const r = await ask("nosuchclaim00000", "x");
      codes.push(r.ok ? "ok" : r.code);
    }
    expect(codes.slice(0, -1).every((c) => c === ProvisioningError.UnknownClaim)).toBe(true);
    expect(codes.at(-1)).toBe(ProvisioningError.RateLimited);
  });

  it("refuses an expired claim, in the provisioning service and at the broker", async () => {
    const [claim] = await api.createClaims({ deviceIds: ["x-1"], ttlS: 60 });
    // The service's view two minutes later (its clock is a parameter).
    const trust = loadSigningTrust(nats.trust!.dir);
    const sysNc = await connectNats({ servers: nats.servers, name: "sys", credsFile: nats.sysCreds() });
    try {
      const store = await TrustStore.open(observer, { replicas: 1 });
      const later = new ClaimService({
        store, issuer: new CredentialIssuer(trust), registry: await KvDeviceRegistry.open(observer, { replicas: 1 }),
        revoker: new Revoker({ store, publisher: new FleetAccountPublisher(sysNc, trust), revocationsMax: 16, log: silentLogger }),
        settings: defaultProvisioningSettings, log: silentLogger, nowMs: () => Date.now() + 120_000,
      });
      const r = await later.handle(claim!.claimId, encodeProvisioningRequest({ op: ProvisioningOp.Issue, deviceId: "x-1", nonce: 1 }));
      expect(r, JSON.stringify(r)).toMatchObject({ ok: false, code: ProvisioningError.Expired });
    } finally {
      await sysNc.close();
    }
    // A claim JWT past its expiry cannot connect at all.
    const expired = new CredentialIssuer(trust).claim("expiredclaim0000", 60, Math.floor(Date.now() / 1000) - 3600);
    expect(await refused(mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "x-1", username: "x-1", password: expired.jwt }))).toMatch(/Not authorized/);
  });

  it("decommission revokes the device's credential: it is disconnected within seconds and cannot reconnect", async () => {
    const [claim] = await api.createClaims({ deviceIds: ["d-1"] });
    const dir = stateDir();
    const dev = await boot("d-1", dir, claim!.token);
    await dev.waitFor("connected", 20_000);
    const gone = dev.waitFor("disconnected", 20_000);
    const r = await api.decommissionDevice("d-1");
    expect(r.credentialsRevoked).toBe(1);
    expect(r.device.lifecycle).toBe("decommissioned");
    await gone;
    expect(await refused(mqttProbe(nats.nodes[0]!.mqttUrl, { clientId: "d-1", username: "d-1", password: storedCredentialIn(dir)! }))).toMatch(/Not authorized/);
    // The device keeps trying on its own; every attempt is refused.
    const attempts = dev.stats().connectAttempts;
    await waitFor("two more refused attempts", () => dev.stats().connectAttempts >= attempts + 2);
    expect(dev.stats().connected).toBe(false);
    // An explicit revoke of a device without credentials says so.
    expect(await api.revokeCredentials("d-1")).toBe(0);
  });
});
