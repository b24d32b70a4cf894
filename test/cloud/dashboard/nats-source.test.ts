// NatsDashboardSource against a real nats-server (JetStream, monitoring):
// the device-state mirror (including a bucket that appears late), the
// cluster snapshot from /varz, /jsz, /routez, /connz and the JetStream API,
// history from XSF_HIST, and device events reaching the page over SSE.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNats, type NatsCluster } from "../../harness/nats";
import { createNatsDashboardSource, type NatsDashboardSource } from "../../../cloud/dashboard/nats-source";
import { startDashboard } from "../../../cloud/dashboard/server";
import { startNatsDashboard } from "../../../cloud/dashboard/standalone";
import { startMetricsEndpoint } from "../../../cloud/metrics";
import { Registry } from "prom-client";
import type { DashboardHandle } from "../../../cloud/dashboard/types";
import { DeviceStateStore, emptyDeviceState } from "../../../cloud/state";
import { defaultStreamLimits, IngestStream, streamConfig } from "../../../cloud/ingest/streams";
import { encodeHistoryRecord } from "../../../cloud/records";
import { apiSubject, DeviceEvent, deviceEventSubject, dlqSubject, heartbeatSubject, historySubject } from "../../../cloud/subjects";
import { waitFor } from "../../harness/wait";
import { openSse } from "./sse-client";
import { encodeHeartbeat, type ClusterHeartbeat } from "../../../cloud/membership";

describe("NatsDashboardSource on a real nats-server", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let cloudConn: NatsConnection;
  let source: NatsDashboardSource;
  let dash: DashboardHandle;
  let monitorUrl: string;

  beforeAll(async () => {
    nats = await startNats();
    monitorUrl = `http://127.0.0.1:${nats.nodes[0]!.monitorPort}`;
    nc = await connect({ servers: nats.servers, name: "dashboard-test" });
    // A cloud node as the NATS server sees it: pooled connections named xsfleet-<nodeId>#<i>.
    cloudConn = await connect({ servers: nats.servers, name: "xsfleet-cloud-a#0" });
    source = createNatsDashboardSource({ nc, monitorUrls: [monitorUrl], retryMs: 100 });
    dash = await startDashboard({ port: 0, source, limits: { snapshotTtlMs: 1 } });
  });

  afterAll(async () => {
    await dash?.stop();
    await source?.close();
    await cloudConn?.close();
    await nc?.close();
    await nats?.stop();
  });

  it("says the state bucket is missing, then mirrors devices once it exists", async () => {
    const missing = await waitFor("bucket-missing error", async () => (await source.fleet()).errors[0]);
    expect(missing).toMatch(/XSF_DEVICE_STATE does not exist yet/);

    const store = await DeviceStateStore.ensure(nc);
    const st = emptyDeviceState("env-1");
    st.lastSeenMs = Date.now();
    st.presence = { state: "online", sinceMs: st.lastSeenMs, source: "hello", reason: "" };
    st.readings = { temp: { t: st.lastSeenMs, v: 21.5, seq: 1, unit: "C" } };
    st.telemetry = { batches: 1, points: 10, lastSeq: 1 };
    expect(await store.compareAndSet("env-1", st, 0)).toBeGreaterThan(0);

    const row = await waitFor("device in fleet", async () => (await source.fleet()).devices.find((d) => d.deviceId === "env-1"));
    expect(row).toMatchObject({ presence: "online", readings: [{ channel: "temp", unit: "C", value: 21.5 }] });
    expect((await source.fleet()).errors).toEqual([]);

    // Through HTTP too.
    const page = (await (await fetch(`${dash.url}api/fleet`)).json()) as { totals: { devices: number; online: number } };
    expect(page.totals).toMatchObject({ devices: 1, online: 1 });

    // An update is seen without polling the bucket.
    const next = (await store.load("env-1"));
    next.state.presence = { state: "offline", sinceMs: Date.now(), source: "status", reason: "will" };
    expect(await store.compareAndSet("env-1", next.state, next.revision)).not.toBeNull();
    await waitFor("offline seen", async () => (await source.fleet()).devices[0]?.presence === "offline");
  });

  it("serves the topology: a gateway's children under it, and edge jobs only once some node answers edge.jobs", async () => {
    const store = await DeviceStateStore.ensure(nc);
    const put = async (id: string, role: number, via: string): Promise<void> => {
      const st = emptyDeviceState(id);
      st.lastSeenMs = Date.now();
      st.presence = { state: "online", sinceMs: st.lastSeenMs, source: "hello", reason: "" };
      st.via = via;
      st.hello = { seq: 1, atMs: st.lastSeenMs, role, capabilities: [], resources: null, location: null, firmwareVersion: "t", bootCount: 1, channels: [], heartbeatIntervalMs: 1000 };
      expect(await store.compareAndSet(id, st, 0)).toBeGreaterThan(0);
    };
    await put("topo-gw", 3, "");
    await put("topo-gw-c1", 1, "topo-gw");
    await put("topo-gw-c0", 1, "topo-gw");
    type Topology = { gateways: Array<{ gatewayId: string; children: Array<{ deviceId: string }>; childCount: number }>; jobs: unknown };
    const topo = async (): Promise<Topology> => (await (await fetch(`${dash.url}api/topology`)).json()) as Topology;
    const t = await waitFor("the gateway with its 2 children", async () => {
      const v = await topo();
      return v.gateways.find((g) => g.gatewayId === "topo-gw" && g.childCount === 2) ? v : null;
    });
    expect(t.gateways.find((g) => g.gatewayId === "topo-gw")!.children.map((c) => c.deviceId)).toEqual(["topo-gw-c0", "topo-gw-c1"]);
    expect(t.jobs).toBeNull(); // nobody serves edge.jobs
    const sub = nc.subscribe(apiSubject("edge.jobs"), {
      callback: (_e, m) => { m.respond(JSON.stringify({ jobs: [{ id: "agg-1", kind: "aggregate", owner: "topo-gw", sinceMs: 1_700_000_000_000 }] })); },
    });
    try {
      const withJobs = await waitFor("edge jobs shown", async () => ((await topo()).jobs !== null ? await topo() : null));
      expect(withJobs.jobs).toEqual([{ job: "agg-1", kind: "aggregate", owner: "topo-gw", sinceMs: 1_700_000_000_000 }]);
    } finally {
      sub.unsubscribe();
      // The tests below count the fleet: leave it as it was.
      for (const id of ["topo-gw", "topo-gw-c0", "topo-gw-c1"]) await store.kv.delete(id);
      await waitFor("topology devices gone", async () => (await source.fleet()).devices.length === 1);
    }
  });

  it("builds the cluster snapshot from the monitoring endpoints and the JetStream API", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add(streamConfig(IngestStream.DeadLetter, 1, defaultStreamLimits.XSF_DLQ));
    await jsm.consumers.add(IngestStream.DeadLetter, { durable_name: "dlq-reader", ack_policy: AckPolicy.Explicit });
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish(dlqSubject("bad-proto"), new Uint8Array([i]));

    const snap = await source.cluster();
    expect(snap.errors).toEqual([]);
    expect(snap.servers).toHaveLength(1);
    const server = snap.servers[0]!;
    expect(server).toMatchObject({ ok: true, monitorUrl, routes: 0 });
    expect(server.version).toMatch(/^2\.\d+\.\d+/);
    expect(server.connections).toBeGreaterThanOrEqual(2);
    expect(server.jetstream?.streams).toBeGreaterThanOrEqual(2);

    const dlq = snap.streams.find((s) => s.name === "XSF_DLQ");
    expect(dlq).toMatchObject({ messages: 3, replicas: 1, consumers: [{ name: "dlq-reader", pending: 3, ackPending: 0 }] });
    // The source's own KV watcher is an ephemeral consumer: counted, not listed, no lag.
    expect(snap.streams.find((s) => s.name === "KV_XSF_DEVICE_STATE")).toMatchObject({ consumers: [], ephemeralConsumers: 1 });
    expect(snap.traffic.deadLetters).toBe(3);
    expect(snap.traffic.consumerLag).toBeGreaterThanOrEqual(3);
    // Its client address as the server sees it, and the server's name (not a monitor URL).
    expect(snap.cloudNodes).toEqual([expect.objectContaining({
      nodeId: "cloud-a", health: "up", natsClients: [expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:\\d+ → ${server.name}$`))],
    })]);
    expect(snap.cloudNodes[0]!.natsClients![0]).not.toContain(String(nats.nodes[0]!.monitorPort));

    // Rates need two samples some time apart.
    await new Promise((r) => setTimeout(r, 600));
    const again = await source.cluster();
    expect(again.traffic.msgsPerSec).not.toBeNull();
    expect(again.traffic.pointsPerSec).toBe(0);

    const viaHttp = (await (await fetch(`${dash.url}api/cluster`)).json()) as { servers: Array<{ name: string }> };
    expect(viaHttp.servers[0]!.name).toBe(server.name);
  });

  it("adds roles and health from cloud nodes' /healthz endpoints", async () => {
    const endpoint = await startMetricsEndpoint({
      host: "127.0.0.1", port: 0, metrics: new Registry(),
      health: () => ({ status: "ok", nodeId: "cloud-a", roles: ["ingest", "api"], nats: { connected: true, server: "n0" } }),
    });
    const src = createNatsDashboardSource({
      nc, monitorUrls: [monitorUrl], cloudHealthUrls: [`http://127.0.0.1:${endpoint.port}/healthz`, "http://127.0.0.1:9/healthz"],
    });
    try {
      const nodes = (await src.cluster()).cloudNodes;
      expect(nodes.find((n) => n.nodeId === "cloud-a")).toMatchObject({ roles: ["ingest", "api"], health: "up" });
      expect(nodes.find((n) => n.nodeId === "http://127.0.0.1:9/healthz")).toMatchObject({ health: "down", lastSeenMs: null });
    } finally {
      await src.close();
      await endpoint.close();
    }
  });

  it("shows cloud nodes' roles and leases from their heartbeats, and a supervised process that died as down", async () => {
    let alive = true;
    const src = createNatsDashboardSource({
      nc, monitorUrls: [monitorUrl],
      processes: () => [{
        name: "cloud-a", kind: "cloud node", state: alive ? "running" : "restarting", running: alive, pid: alive ? 4242 : null, restarts: 0,
        lastExit: alive ? null : "killed by SIGKILL", lastExitMs: alive ? null : Date.now(),
      }],
    });
    try {
      await nc.flush();
      await src.flush();
      const hb: ClusterHeartbeat = {
        v: 1, nodeId: "cloud-a", startedAtMs: Date.now(), seq: 1, sentAtMs: Date.now(), roles: ["ingest", "api", "orchestration"],
        replacing: [], leases: ["commands-retry"], resources: { freeMemoryBytes: 1, totalMemoryBytes: 2, cpuLoad1: 0, cpus: 1 },
      };
      cloudConn.publish(heartbeatSubject("cloud-a"), encodeHeartbeat(hb));
      const node = await waitFor("roles from the heartbeat", async () =>
        (await src.cluster()).cloudNodes.find((n) => n.nodeId === "cloud-a" && n.roles.length > 0));
      expect(node).toMatchObject({ health: "up", roles: ["ingest", "api", "orchestration"], leases: ["commands-retry"] });
      expect(node.detail).toContain("pid 4242");
      alive = false;
      const dead = (await src.cluster()).cloudNodes.find((n) => n.nodeId === "cloud-a")!;
      expect(dead).toMatchObject({ health: "down", detail: expect.stringMatching(/^process killed by SIGKILL/) });
      expect((await src.cluster()).processes.map((p) => [p.name, p.running])).toEqual([["cloud-a", false]]);
    } finally {
      await src.close();
    }
  });

  it("reports an unreachable monitoring endpoint as a row and an error, not a failure", async () => {
    const src = createNatsDashboardSource({ nc, monitorUrls: [monitorUrl, "http://127.0.0.1:9"], monitorTimeoutMs: 2000 });
    try {
      const snap = await src.cluster();
      expect(snap.servers.map((s) => s.ok)).toEqual([true, false]);
      expect(snap.errors.join()).toMatch(/http:\/\/127\.0\.0\.1:9/);
    } finally {
      await src.close();
    }
  });

  it("serves history from XSF_HIST through /api/history", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add(streamConfig(IngestStream.History, 1, defaultStreamLimits.XSF_HIST));
    const t0 = Date.now() - 60_000;
    await jetstream(nc).publish(historySubject("env-1", "temp"), encodeHistoryRecord({ s: 1, t: [t0, t0 + 1000, t0 + 2000], v: [21, 21.5, 22] }));
    const res = await fetch(`${dash.url}api/history?device=env-1&channel=temp&fromMs=${t0 - 1000}&toMs=${t0 + 10_000}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { points: Array<{ timeMs: number; value: number }> };
    expect(body.points).toEqual([{ timeMs: t0, value: 21 }, { timeMs: t0 + 1000, value: 21.5 }, { timeMs: t0 + 2000, value: 22 }]);
    // More points than asked for: the newest ones, in time order (the plot shows what is happening now).
    const newest = (await (await fetch(`${dash.url}api/history?device=env-1&channel=temp&fromMs=${t0 - 1000}&toMs=${t0 + 10_000}&limit=2`)).json()) as typeof body;
    expect(newest.points).toEqual([{ timeMs: t0 + 1000, value: 21.5 }, { timeMs: t0 + 2000, value: 22 }]);
  });

  it("startNatsDashboard connects by itself, serves, and closes its connection on stop()", async () => {
    const h = await startNatsDashboard({ servers: nats.servers, monitorUrls: [monitorUrl], port: 0 });
    await waitFor("fleet mirrored", async () =>
      ((await (await fetch(`${h.url}api/fleet`)).json()) as { totals: { devices: number } }).totals.devices === 1);
    // Its own connection (xsfleet-dashboard) is not shown as a cloud node.
    const cluster = (await (await fetch(`${h.url}api/cluster`)).json()) as { cloudNodes: Array<{ nodeId: string }> };
    expect(cluster.cloudNodes.map((n) => n.nodeId)).toEqual(["cloud-a"]);
    await h.stop();
    await expect(fetch(`${h.url}healthz`)).rejects.toThrow();
  });

  it("delivers a device event published on NATS to the page over SSE", async () => {
    const sse = await openSse(`${dash.url}api/events`);
    try {
      expect(sse.status).toBe(200);
      await source.flush();
      const payload = { deviceId: "env-1", event: "offline", atMs: 1234, source: "heartbeat-timeout", reason: "no heartbeat for 15 s" };
      cloudConn.publish(deviceEventSubject("env-1", DeviceEvent.Offline), JSON.stringify(payload));
      const frame = await sse.waitFor((f) => f.data.includes("heartbeat-timeout"));
      expect(JSON.parse(frame.data)).toMatchObject({
        kind: "offline", deviceId: "env-1", timeMs: 1234, summary: "device offline (heartbeat-timeout: no heartbeat for 15 s)", detail: payload,
      });
    } finally {
      sse.close();
    }
  });
});
