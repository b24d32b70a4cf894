// `xsfleet up` secured by default, as a user runs it (docs/security.md): the
// simulated fleet provisions itself with one-time claims, and every role
// does its work under its own least-privilege user — commands, desired
// config, device state, history, the cluster API, the dashboard, claims —
// with not one permission violation in the broker's log. An integrator
// reads outputs with the creds `up` printed; decommission disconnects a
// device. (The stack without security: `--insecure`, used by the other e2e
// tests' expectations only where they say so.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { ApiClient, ApiEndpoint } from "../../cloud/api";
import { freePort } from "../../cloud/infra";
import { connectNats } from "../../cloud/nats";
import { allOutTelemetrySubject, ClusterApiSubject } from "../../cloud/subjects";
import { waitFor } from "../harness/wait";
import { startUp, type UpProcess } from "./up-process";

describe("xsfleet up, secured by default", () => {
  let up: UpProcess;
  let admin: NatsConnection;
  let api: ApiClient;
  let natsUrl: string;
  let dashUrl: string;

  beforeAll(async () => {
    up = await startUp(["--topology", "direct", "--devices", "3", "--actuators", "1", "--cloud-nodes", "1", "--heartbeat-ms", "1000", "--dashboard-port", String(await freePort())]);
    await up.waitFor(/devices 3\/3 online.*cloud 1\/1 up \| raft 3\/3 \| members 1 up/, "stack up", 150_000);
    natsUrl = (await up.waitFor(/broker: NATS (nats:\/\/127\.0\.0\.1:\d+)/, "NATS URL"))[1]!;
    dashUrl = (await up.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+)/, "dashboard URL"))[1]!;
    admin = await connectNats({ servers: [natsUrl], name: "e2e-admin", credsFile: path.join(up.stateDir, "secrets", "creds", "admin.creds") });
    api = new ApiClient(admin, { timeoutMs: 30_000 });
  }, 180_000);

  afterAll(async () => {
    await admin?.close();
    if (up) {
      process.kill(-up.pgid, "SIGINT");
      await up.exited(20_000).catch(() => undefined);
      await up.cleanup();
    }
  });

  it("provisions the fleet with claims and tells the integrator how to connect", async () => {
    const out = up.output();
    expect(out).toMatch(/security: operator\/JWT mode; keys and credentials in .*secrets \(0600\)/);
    expect(out).toMatch(/fleet: 3 one-time claims created/);
    const claims = await api.listClaims();
    expect(claims.claims.map((c) => [c.deviceId, c.state]).sort()).toEqual([["sim-0", "done"], ["sim-1", "done"], ["sim-2", "done"]]);
    const creds = /integrators connect with (\S+integrator\.creds)/.exec(out)![1]!;
    const integrator = await connectNats({ servers: [natsUrl], name: "e2e-integrator", credsFile: creds });
    try {
      const sub = integrator.subscribe(allOutTelemetrySubject, { max: 1 });
      for await (const m of sub) expect(m.json<{ deviceId: string }>().deviceId).toMatch(/^sim-/);
      await expect(new ApiClient(integrator, { timeoutMs: 5_000 }).createClaims({ count: 1 })).rejects.toThrow(/Permissions Violation/);
    } finally {
      await integrator.close();
    }
  });

  it("runs every role under its own user: commands, config, state, history, shadow reports, cluster API, dashboard — no permission violation", async () => {
    const cmd = await api.sendCommand({ deviceId: "sim-2", name: "set", args: { value: 1 }, timeoutMs: 20_000 });
    expect(cmd.command.state).toBe("acked");
    // Configuration is the desired shadow: written here, pushed as a delta, applied by the device process and reported back.
    const cfg = await api.setConfig("sim-0", { heartbeatIntervalMs: 1700 });
    expect(cfg.fields.heartbeatIntervalMs!.values).toEqual([1700]);
    await waitFor("sim-0 state", async () => (await api.deviceState("sim-0")) !== null);
    const now = Date.now();
    await waitFor("sim-0 history", async () => {
      const r = (await api.queryTelemetry({ deviceId: "sim-0", channel: "temperature", fromMs: now - 86_400_000 * 3650, toMs: now + 86_400_000 * 3650, limit: 5 })) as { points?: unknown[] };
      return (r.points?.length ?? 0) > 0;
    });
    // The example desired shadow field comes back reported: ingest joined the devices' reports under its own user.
    await waitFor("sim-0's reported shadow (joined by ingest)", async () => {
      const { shadow } = await api.call(ApiEndpoint.ShadowGet, { deviceId: "sim-0" });
      return shadow.reported.writers.includes("dev") && shadow.reported.fields.mode?.values[0] === "auto";
    }, 30_000);
    await waitFor("sim-0 runs with heartbeatIntervalMs 1700 (reported by the device process, joined by ingest)", async () => {
      const { shadow } = await api.call(ApiEndpoint.ShadowGet, { deviceId: "sim-0" });
      return shadow.reported.fields.heartbeatIntervalMs?.values[0] === 1700 && Object.keys(shadow.delta.fields).length === 0;
    }, 30_000);
    const members = (await admin.request(ClusterApiSubject.Members, "{}", { timeout: 5_000 })).json<{ members: unknown[] }>();
    expect(members.members.length).toBe(1);
    const fleet = (await (await fetch(`${dashUrl}/api/fleet`)).json()) as { devices: { deviceId: string }[] };
    expect(fleet.devices.map((d) => d.deviceId).sort()).toEqual(["sim-0", "sim-1", "sim-2"]);
    // Decommission: revoked at once, the device disconnected and refused from then on.
    const r = await api.decommissionDevice("sim-1");
    expect(r.credentialsRevoked).toBe(1);
    await up.waitFor(/devices 2\/3 online/, "sim-1 offline", 30_000, up.output().length);
    // Every user had what it needed: the broker logged no permission violation.
    const log = readFileSync(path.join(up.stateDir, "logs", "xsfleet-n0.log"), "utf8");
    expect(log.split("\n").filter((l) => /Violation/.test(l) && !/e2e-integrator/.test(l))).toEqual([]);
  }, 90_000);
});
