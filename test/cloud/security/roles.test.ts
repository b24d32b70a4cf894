// Least privilege for the cloud's own users (cloud/security/permissions.ts)
// on a real nats-server in operator mode: each principal's publishes and
// subscriptions outside its table are refused by the broker — nothing
// reaches NATS, the client is told. Publishes from one connection are
// delivered in order, so a permitted publish after a refused one is the
// barrier: once it is seen, the refused one would have been too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { ApiClient } from "../../../cloud/api";
import { connectNats } from "../../../cloud/nats";
import { principalPermissions, servicePrincipals, type ServicePrincipal } from "../../../cloud/security";
import {
  allHeartbeatsSubject, apiSubject, controlSubject, deviceEventSubject, DeviceEvent, deviceSubject, heartbeatSubject, raftSubject, swimSubject,
} from "../../../cloud/subjects";
import { Downlink } from "../../../shared/topics";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";

describe("cloud principals are held to their permission table", () => {
  let nats: NatsCluster;
  let observer: NatsConnection;
  const seen: string[] = [];
  const conns: NatsConnection[] = [];

  beforeAll(async () => {
    nats = await startNats({ secure: true });
    observer = await connectNats({ servers: nats.servers, name: "observer", credsFile: nats.observerCreds() });
    observer.subscribe(">", { callback: (_e, m) => { seen.push(m.subject); } });
    await observer.flush();
  });

  afterAll(async () => {
    for (const c of conns) await c.close();
    await observer?.close();
    await nats?.stop();
  });

  const as = async (p: ServicePrincipal): Promise<{ nc: NatsConnection; errors: string[] }> => {
    const nc = await connectNats({ servers: nats.servers, name: `as-${p}`, credsFile: nats.creds(p) });
    conns.push(nc);
    const errors: string[] = [];
    void (async () => { for await (const s of nc.status()) if (s.type === "error") errors.push(String((s as { error?: unknown }).error)); })();
    return { nc, errors };
  };

  /** Publishes `refused` then `barrier` (which `p` may publish); returns what reached NATS of `refused`. */
  const tryPublish = async (nc: NatsConnection, refused: string, barrier: string): Promise<boolean> => {
    nc.publish(refused, "x");
    nc.publish(barrier, "barrier");
    await waitFor(`the barrier ${barrier}`, () => seen.includes(barrier));
    return seen.includes(refused);
  };

  it("the api role cannot publish Raft messages or speak for a device; the control replicas can", async () => {
    const api = await as("api");
    expect(await tryPublish(api.nc, raftSubject("control", 1), deviceEventSubject("barrier-1", DeviceEvent.Registered))).toBe(false);
    expect(await tryPublish(api.nc, deviceSubject("dev-1", "tele"), deviceEventSubject("barrier-2", DeviceEvent.Registered))).toBe(false);
    await waitFor("a permission error reported to the api connection", () => api.errors.some((e) => /Permissions Violation for Publish to "xsfleet\.raft/.test(e)));
    const control = await as("control");
    control.nc.publish(raftSubject("control", 2), "raft");
    await waitFor("a replica's Raft message", () => seen.includes(raftSubject("control", 2)));
    // …and a replica cannot send commands to devices.
    expect(await tryPublish(control.nc, deviceSubject("dev-1", Downlink.Command), raftSubject("control", 3))).toBe(false);
  });

  it("only registry clients reach the control plane's API; nobody else listens to Raft", async () => {
    const dashboard = await as("dashboard");
    await expect(dashboard.nc.request(controlSubject("device.get"), "{}", { timeout: 2_000 })).rejects.toThrow(/Permissions Violation/);
    const integrator = await as("integrator");
    const sub = integrator.nc.subscribe(raftSubject("control", 1));
    await expect((async () => { for await (const _ of sub) return "message"; return "ended"; })()).rejects.toThrow(/Permissions Violation/);
    const orchestration = await as("orchestration");
    expect(await tryPublish(orchestration.nc, raftSubject("control", 1), heartbeatSubject("barrier-node"))).toBe(false);
    expect(await tryPublish(orchestration.nc, swimSubject("n1"), heartbeatSubject("barrier-node-2"))).toBe(true);
  });

  it("integrators and the dashboard cannot mint or revoke credentials; replies stay in each principal's own inbox", async () => {
    for (const p of ["integrator", "dashboard"] as const) {
      const { nc } = await as(p);
      await expect(new ApiClient(nc, { timeoutMs: 2_000 }).createClaims({ count: 1 })).rejects.toThrow(/Permissions Violation/);
      await expect(new ApiClient(nc, { timeoutMs: 2_000 }).revokeCredentials("dev-1")).rejects.toThrow(/Permissions Violation/);
    }
    const { nc } = await as("dashboard");
    const snoop = nc.subscribe("_INBOX_admin.>");
    await expect((async () => { for await (const _ of snoop) return "message"; return "ended"; })()).rejects.toThrow(/Permissions Violation/);
    const dash = await as("dashboard");
    dash.nc.subscribe(allHeartbeatsSubject); // allowed
    await dash.nc.flush();
    expect(dash.errors).toEqual([]);
  });

  it("gives every service principal an own inbox and no Raft or device-impersonation rights except where the table says", () => {
    for (const p of servicePrincipals) {
      const perm = principalPermissions(p);
      expect(perm.sub.allow, p).toContain(`_INBOX_${p}.>`);
      expect(perm.sub.allow!.filter((s) => s.startsWith("_INBOX")), p).toEqual([`_INBOX_${p}.>`]);
      const raft = [...perm.pub.allow ?? [], ...perm.sub.allow ?? []].some((s) => s.startsWith("xsfleet.raft"));
      expect(raft, `${p} and Raft subjects`).toBe(p === "control");
      // Nobody but devices publishes device uplinks — except ingest's will relay, which
      // republishes each unmapped MQTT will into its partition (status only; ingest writes device state anyway).
      const uplinks = (perm.pub.allow ?? []).filter((s) => /^xsfleet\.v1\.(p\.[^.]+\.)?dev\.[^.]+\.(hello|hb|tele|ctr|ack|status)$/.test(s));
      expect(uplinks, p).toEqual(p === "ingest" ? ["xsfleet.v1.p.*.dev.*.status"] : []);
      expect((perm.pub.allow ?? []).includes(">") || (perm.sub.allow ?? []).includes(">"), p).toBe(false);
    }
    expect(principalPermissions("api").pub.allow).toContain(apiSubject("credentials.revoke"));
  });
});
