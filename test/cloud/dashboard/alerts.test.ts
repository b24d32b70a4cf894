// The dashboard's Alerts panel and window chart endpoints on a real stack:
// nats-server with the partition mapping, the Raft control plane in process,
// a cloud node with the api and analytics roles, a sensor played by hand.
// Before any API node: /api/alerts and /api/windows say so (`unavailable`), an ack is a 503. Bad
// ack bodies are refused (400/413/415/405) before anything is sent. Then a
// threshold rule raises an alert: /api/alerts lists it, POST /api/alerts/ack
// acknowledges it through the API's alerts.ack (by "dashboard"), the list
// shows it acknowledged at once, an unknown episode is the API's 404, and
// /api/windows serves the sensor's window results (mean inside min/max).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { ApiClient, ApiEndpoint } from "../../../cloud/api";
import { createNatsDashboardSource, type NatsDashboardSource } from "../../../cloud/dashboard/nats-source";
import { startDashboard } from "../../../cloud/dashboard/server";
import type { AlertRow, DashboardHandle, WindowRow } from "../../../cloud/dashboard/types";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { telemetryEnvelope } from "../../harness/envelopes";
import { until } from "../../harness/wait";
import { startTestNode, testPartitions } from "../api/fixture";
import { publishUplink } from "../analytics/helpers";

const rule = {
  id: "humid-dash", name: "humidity above 45 %",
  match: { devices: ["sensor-7"], channel: "humidity" },
  when: { kind: "threshold", above: 45, clearBelow: 42 },
  actions: [{ kind: "event", on: "raise" }],
};

let nats: NatsCluster;
let cp: InProcessControlPlane | undefined;
let node: CloudNode | undefined;
let nc: NatsConnection;
let source: NatsDashboardSource;
let dash: DashboardHandle;

beforeAll(async () => {
  nats = await startNats({ partitions: testPartitions });
  nc = await connect({ servers: nats.servers });
  source = createNatsDashboardSource({ nc, monitorUrls: [], retryMs: 100, apiTimeoutMs: 5_000 });
  dash = await startDashboard({ port: 0, source, limits: { snapshotTtlMs: 1_000 } });
}, 60_000);

afterAll(async () => {
  await dash?.stop();
  await source?.close();
  await nc?.close();
  await node?.stop();
  await cp?.stop();
  await nats?.stop();
});

async function get<T>(path: string): Promise<{ status: number; body: T & { error?: string } }> {
  const res = await fetch(`${dash.url}${path}`);
  return { status: res.status, body: (await res.json()) as T & { error?: string } };
}

async function ack(body: string, contentType = "application/json"): Promise<{ status: number; body: { alert?: AlertRow; error?: string } }> {
  const res = await fetch(`${dash.url}api/alerts/ack`, { method: "POST", headers: { "content-type": contentType }, body });
  return { status: res.status, body: (await res.json()) as { alert?: AlertRow; error?: string } };
}

describe("dashboard alerts and windows over the API", () => {
  it("answers 503 while no node serves the API, and refuses bad ack requests with a clear message", async () => {
    // Reads: no API node is how the system is set up (200, empty, `unavailable` says why); the ack is a 503.
    const none = await get<{ alerts: AlertRow[]; unavailable: string }>("api/alerts");
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ alerts: [], unavailable: expect.stringMatching(/no node serves alerts\.list/) });
    const noAck = await ack(JSON.stringify({ ruleId: "r", key: "k", episode: 1 }));
    expect(noAck.status).toBe(503);
    expect(noAck.body.error).toMatch(/no node serves alerts\.ack/);
    const noWindows = await get<{ windows: WindowRow[]; unavailable: string }>("api/windows?device=sensor-7");
    expect(noWindows.status).toBe(200);
    expect(noWindows.body).toMatchObject({ windows: [], unavailable: expect.stringMatching(/no node serves analytics\.windows/) });

    const bad = [
      ["{", /JSON/],
      ["[1]", /object/],
      [JSON.stringify({ ruleId: "r", key: "k" }), /episode/],
      [JSON.stringify({ ruleId: "r", key: "k", episode: 0 }), /episode/],
      [JSON.stringify({ ruleId: "bad rule", key: "k", episode: 1 }), /ruleId/],
      [JSON.stringify({ ruleId: "r", key: "", episode: 1 }), /key/],
      [JSON.stringify({ ruleId: "r", key: "k", episode: 1, by: "me" }), /unknown field "by"/],
    ] as const;
    for (const [body, msg] of bad) {
      const r = await ack(body);
      expect(r.status, body).toBe(400);
      expect(r.body.error, body).toMatch(msg);
    }
    expect((await ack(JSON.stringify({ ruleId: "r", key: "k", episode: 1 }), "text/plain")).status).toBe(415);
    expect((await ack(JSON.stringify({ ruleId: "r", key: "x".repeat(5000), episode: 1 }))).status).toBe(413);
    expect((await fetch(`${dash.url}api/alerts/ack`)).status).toBe(405);
    expect((await get("api/windows?device=bad%20id")).status).toBe(400);
    expect((await get("api/windows?device=sensor-7&fromMs=0&toMs=999999999999")).status).toBe(400); // wider than a day
  }, 30_000);

  it("lists a raised alert, acknowledges it through alerts.ack, and serves the device's windows", async () => {
    cp = await startControlPlaneInProcess(nats.servers);
    node = await startTestNode(nats.servers, { roles: ["api", "analytics"] });
    const api = new ApiClient(nc, { timeoutMs: 10_000 });
    await api.call(ApiEndpoint.RulesPut, { rule, expectedVersion: 0 });
    expect((await get<{ alerts: AlertRow[] }>("api/alerts")).body.alerts).toEqual([]);

    // Humidity of batch s is 40 + ((3s + i) mod 200) / 10 (test/harness/envelopes.ts): batches 20..59 of every 67
    // are above 45 and never below the clear level. The node applies stored rules within seconds, so keep sending.
    const js = jetstream(nc);
    let k = 0;
    const highSeq = (n: number): number => 67 * Math.floor(n / 40) + 20 + (n % 40);
    const publish = async (atMs: number): Promise<void> => {
      const seq = highSeq(k++);
      await publishUplink(js, telemetryEnvelope("sensor-7", seq, 10, atMs - seq * 10_000), undefined, testPartitions);
    };
    let raised: AlertRow | undefined;
    await until("the dashboard lists the raised alert", async () => {
      await publish(Date.now());
      const r = await get<{ alerts: AlertRow[] }>("api/alerts");
      raised = r.body.alerts?.find((a) => a.ruleId === rule.id && a.state === "raised");
      return raised !== undefined;
    }, 60_000);
    expect(raised).toMatchObject({ key: "sensor-7", episode: 1, ackedBy: null });
    expect(raised!.value).toBeGreaterThan(45);
    expect(raised!.sinceMs).toBe(raised!.raisedAtMs);

    const missing = await ack(JSON.stringify({ ruleId: rule.id, key: "sensor-7", episode: 99 }));
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/alerts\.ack/);

    const done = await ack(JSON.stringify({ ruleId: rule.id, key: "sensor-7", episode: 1 }));
    expect(done.status).toBe(200);
    expect(done.body.alert).toMatchObject({ ruleId: rule.id, key: "sensor-7", episode: 1, state: "acknowledged", ackedBy: "dashboard" });
    // The ack invalidates the cached list: the next read shows it, within the snapshot TTL.
    const after = await get<{ alerts: AlertRow[] }>("api/alerts");
    expect(after.body.alerts.find((a) => a.ruleId === rule.id)).toMatchObject({ state: "acknowledged", ackedBy: "dashboard" });
    const history = await api.call(ApiEndpoint.AlertsHistory, { ruleId: rule.id });
    expect(history.events.map((e) => [e.state, e.by])).toEqual([["raised", undefined], ["acknowledged", "dashboard"]]);

    // A batch two minutes on moves the watermark past the current window: it closes and is stored.
    await publish(Date.now() + 120_000);
    let windows: WindowRow[] = [];
    await until("the sensor's window results are served", async () => {
      const w = await get<{ windows: WindowRow[] }>(`api/windows?device=sensor-7&fromMs=${Date.now() - 3600_000}`);
      windows = w.body.windows ?? [];
      return w.status === 200 && windows.some((x) => x.channel === "humidity");
    }, 30_000);
    for (const w of windows) {
      expect(w.operator).toBe("1m");
      expect(w.min).toBeLessThanOrEqual(w.mean);
      expect(w.mean).toBeLessThanOrEqual(w.max);
      expect(w.endMs).toBeGreaterThan(w.startMs);
    }
    const starts = windows.map((w) => w.startMs);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  }, 120_000);
});
