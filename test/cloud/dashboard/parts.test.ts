// Pure parts of the dashboard, no server: the event ring, rate meters, the
// NATS event and device-state mappings, monitoring-endpoint parsers.
import { describe, expect, it } from "vitest";
import { EventBuffer } from "../../../cloud/dashboard/event-buffer";
import { RateMeter, RateMeters } from "../../../cloud/dashboard/rates";
import { deviceRow, eventFromMessage } from "../../../cloud/dashboard/nats-source";
import { cloudNodeFromHealth, mergeCloudNodes, serverRow } from "../../../cloud/dashboard/nats-monitor";
import type { ClusterHeartbeat } from "../../../cloud/membership";
import { cloudNodeRows, HeartbeatTable, heartbeatNodesMax, natsClientsFromConnz } from "../../../cloud/dashboard/cloud-nodes";
import { emptyDeviceState, publicState } from "../../../cloud/state";

const enc = new TextEncoder();

describe("EventBuffer", () => {
  it("assigns increasing ids, keeps the newest eventBufferMax, answers since(id)", () => {
    const b = new EventBuffer(3, 100);
    for (let i = 0; i < 5; i++) b.push({ timeMs: i, kind: "online", deviceId: `d${i}`, summary: "" });
    expect(b.size).toBe(3);
    expect(b.dropped).toBe(2);
    expect(b.since(0).map((e) => e.id)).toEqual([3, 4, 5]);
    expect(b.since(4).map((e) => e.id)).toEqual([5]);
    expect(b.since(5)).toEqual([]);
    // A client resuming from a previous server run (ids restarted) gets everything kept.
    expect(b.since(900).map((e) => e.id)).toEqual([3, 4, 5]);
  });

  it("cuts long fields and replaces oversized or unserializable details", () => {
    const b = new EventBuffer(10, 20);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const e1 = b.push({ timeMs: 1, kind: "k".repeat(100), deviceId: "d", summary: "s".repeat(1000), detail: { a: "x".repeat(50) } });
    expect(e1.kind).toHaveLength(64);
    expect(e1.summary).toHaveLength(240);
    expect(e1.detail).toEqual({ omitted: expect.stringMatching(/exceeds 20/) });
    expect(b.push({ timeMs: 1, kind: "k", deviceId: "d", summary: "", detail: cyclic }).detail).toEqual({ omitted: "detail is not JSON-serializable" });
    expect(b.push({ timeMs: 1, kind: "k", deviceId: "d", summary: "", detail: { ok: 1 } }).detail).toEqual({ ok: 1 });
  });
});

describe("RateMeter", () => {
  it("gives per-second rates, ignores too-close samples, restarts on a counter reset", () => {
    const m = new RateMeter(500);
    expect(m.sample(100, 0)).toBeNull();
    expect(m.sample(300, 1000)).toBe(200);
    expect(m.sample(310, 1100)).toBe(200); // too close: previous rate
    expect(m.sample(400, 2000)).toBe(100);
    expect(m.sample(5, 3000)).toBeNull(); // server restarted
    expect(m.sample(55, 3500)).toBe(100);
  });

  it("sums rates over keys and forgets keys no longer sampled", () => {
    const ms = new RateMeters(8);
    ms.sampleAll(new Map([["a", 0], ["b", 0]]), 0);
    expect(ms.sampleAll(new Map([["a", 10], ["b", 30]]), 1000)).toBe(40);
    expect(ms.sampleAll(new Map([["a", 20]]), 2000)).toBe(10);
    expect(ms.sampleAll(new Map([["b", 1000]]), 3000)).toBeNull(); // b starts over
  });
});

describe("eventFromMessage", () => {
  it("maps ingest presence and command events to one-line summaries", () => {
    const off = eventFromMessage("xsfleet.v1.events.env-1.offline",
      enc.encode(JSON.stringify({ deviceId: "env-1", event: "offline", atMs: 123, source: "status", reason: "will" })), 999, 8192);
    expect(off).toMatchObject({ timeMs: 123, kind: "offline", deviceId: "env-1", summary: "device offline (status: will)" });
    const acked = eventFromMessage("xsfleet.v1.events.act-2.command-acked",
      enc.encode(JSON.stringify({ event: "command-acked", commandId: "c1", name: "relay", ack: { status: "ok", message: "", ackedMs: 50 } })), 999, 8192);
    expect(acked).toMatchObject({ timeMs: 50, kind: "command-acked", summary: "command relay c1 acked ok" });
    const expired = eventFromMessage("xsfleet.v1.events.act-2.command-expired",
      enc.encode(JSON.stringify({ commandId: "c2", name: "relay", attempts: 7, expiredMs: 70 })), 999, 8192);
    expect(expired).toMatchObject({ timeMs: 70, summary: "command relay c2 expired after 7 attempts" });
    const detection = eventFromMessage("xsfleet.v1.events.env-1.threshold", enc.encode(JSON.stringify({ summary: "temp > 30 C" })), 999, 8192);
    expect(detection).toMatchObject({ timeMs: 999, kind: "threshold", summary: "temp > 30 C" });
  });

  it("survives bad payloads and ignores subjects that are not device events", () => {
    expect(eventFromMessage("xsfleet.v1.events.d1.online", enc.encode("{nope"), 5, 8192))
      .toEqual({ timeMs: 5, kind: "online", deviceId: "d1", summary: "online (payload is not JSON)" });
    expect(eventFromMessage("xsfleet.v1.events.d1.online", new Uint8Array(100), 5, 10)?.summary).toMatch(/payload of 100 bytes not shown/);
    expect(eventFromMessage("xsfleet.v1.events.d1.online", new Uint8Array(0), 5, 10)?.summary).toBe("device online");
    expect(eventFromMessage("xsfleet.v1.events.d1", new Uint8Array(0), 5, 10)).toBeNull();
    expect(eventFromMessage("xsfleet.v1.events.d1.Bad_Kind", new Uint8Array(0), 5, 10)).toBeNull();
    expect(eventFromMessage("xsfleet.v1.dev.d1.online", new Uint8Array(0), 5, 10)).toBeNull();
  });
});

describe("deviceRow", () => {
  it("maps cloud/state's DeviceState, channels in the device's announced order", () => {
    const st = emptyDeviceState("env-7");
    st.lastSeenMs = 5000;
    st.presence = { state: "online", sinceMs: 4000, source: "hello", reason: "" };
    st.hello = {
      seq: 1, atMs: 4000, role: 1, capabilities: [], resources: { freeHeapBytes: 90_000, flashTotalBytes: 0, flashFreeBytes: 0, cpuMhz: 240, cpuLoadCentiPct: 0 },
      location: { site: "lab", zone: "north", latitude: 0, longitude: 0 }, firmwareVersion: "1.4.2", bootCount: 3,
      channels: [{ name: "temp", unit: "C", resolution: 0.01 }, { name: "rh", unit: "%", resolution: 0.1 }], heartbeatIntervalMs: 5000,
    };
    st.heartbeat = { seq: 2, atMs: 5000, deviceTimeMs: 5000, heartbeatSeq: 9, uptimeMs: 1, freeHeapBytes: 81_000, rssiDbm: -61, counterDigest: 0, outboxDepth: 0, outboxDropped: 0, cpuLoadCentiPct: 0 };
    st.readings = { rh: { t: 4900, v: 41.5, seq: 3, unit: "%" }, temp: { t: 4900, v: 21.25, seq: 3, unit: "C" } };
    st.counters = { "tele.sent": { kind: "g", value: 12, state: "" } };
    expect(deviceRow(publicState(st), 16)).toEqual({
      deviceId: "env-7", role: "sensor", presence: "online", presenceSinceMs: 4000, lastSeenMs: 5000, firmware: "1.4.2",
      freeHeapBytes: 81_000, rssiDbm: -61, location: "lab/north", via: "",
      readings: [{ channel: "temp", unit: "C", value: 21.25, timeMs: 4900 }, { channel: "rh", unit: "%", value: 41.5, timeMs: 4900 }],
      counters: { "tele.sent": 12 },
    });
  });

  it("shows unknowns as null for a device never heard from", () => {
    const row = deviceRow(publicState(emptyDeviceState("new-1")), 16);
    expect(row).toMatchObject({ role: "unknown", presence: "unknown", presenceSinceMs: null, lastSeenMs: null, firmware: null, freeHeapBytes: null, rssiDbm: null, readings: [] });
  });
});

describe("monitoring parsers", () => {
  it("serverRow reads /varz, /jsz and /routez; missing fields become 0", () => {
    const row = serverRow("http://h:8222",
      { server_name: "n0", version: "2.9.25", uptime: "1m", connections: 4, in_msgs: 10, out_msgs: 20, mem: 1024, cpu: 1.5 },
      { streams: 3, consumers: 2, messages: 100, bytes: 2048, meta_cluster: { leader: "n0" } },
      { num_routes: 2 });
    expect(row).toMatchObject({ ok: true, name: "n0", version: "2.9.25", connections: 4, inMsgs: 10, outMsgs: 20, inBytes: 0, routes: 2,
      jetstream: { streams: 3, consumers: 2, messages: 100, bytes: 2048, metaLeader: "n0" } });
    expect(serverRow("u", {}, { disabled: true }, null).jetstream).toBeNull();
  });

  it("natsClientsFromConnz lists named client connections with their address and server", () => {
    const clients = natsClientsFromConnz([
      { server: "n0", connz: { connections: [{ name: "xsfleet-c1#0", ip: "127.0.0.1", port: 5001 }, { ip: "10.0.0.9", port: 7 }, "junk"] } },
      { server: "n1", connz: { connections: [{ name: "xsfleet-c2", ip: "127.0.0.1", port: 5002 }] } },
    ]);
    expect(clients).toEqual([
      { name: "xsfleet-c1#0", address: "127.0.0.1:5001", server: "n0" },
      { name: "xsfleet-c2", address: "127.0.0.1:5002", server: "n1" },
    ]);
  });

  it("cloudNodeRows: roles from heartbeats, addresses from connz, a dead process is down whatever its last heartbeat", () => {
    const nowMs = 100_000;
    const hb = (nodeId: string, ageMs: number) => ({ nodeId, roles: ["ingest", "api"], leases: ["commands-retry"], receivedMs: nowMs - ageMs });
    const proc = (name: string, running: boolean, lastExit: string | null = null) => ({
      name, kind: "cloud node", state: running ? "running" : "restarting", running, pid: running ? 42 : null, restarts: lastExit ? 1 : 0,
      lastExit, lastExitMs: lastExit ? nowMs - 2_000 : null,
    });
    const rows = cloudNodeRows({
      heartbeats: [hb("c1", 500), hb("c2", 400), hb("c3", 5_000), hb("c4", 60_000)],
      clients: new Map([["c1", [{ name: "xsfleet-c1", address: "127.0.0.1:5001", server: "n0" }]], ["c5", [{ name: "xsfleet-c5", address: "127.0.0.1:5005", server: "n0" }]]]),
      processes: new Map([["c1", proc("c1", true, "killed by SIGKILL")], ["c2", proc("c2", false, "killed by SIGKILL")]]),
      nowMs,
    });
    const by = new Map(rows.map((r) => [r.nodeId, r]));
    expect(rows.map((r) => r.nodeId)).toEqual(["c1", "c2", "c3", "c4", "c5"]);
    expect(by.get("c1")).toMatchObject({ health: "up", roles: ["ingest", "api"], leases: ["commands-retry"], natsClients: ["127.0.0.1:5001 → n0"] });
    expect(by.get("c1")!.detail).toMatch(/pid 42 · restarted 1×, last: killed by SIGKILL/);
    expect(by.get("c2")).toMatchObject({ health: "down", natsClients: [] });
    expect(by.get("c2")!.detail).toBe("process killed by SIGKILL 2 s ago; restarting");
    expect(by.get("c3")).toMatchObject({ health: "suspect", detail: "no heartbeat for 5 s" });
    expect(by.get("c4")).toMatchObject({ health: "down", detail: "no heartbeat for 60 s" });
    expect(by.get("c5")).toMatchObject({ health: "up", roles: [], detail: expect.stringMatching(/no orchestration role/) });
  });

  it("HeartbeatTable keeps the latest heartbeat per node, bounded, and forgets old ones", () => {
    const t = new HeartbeatTable();
    const beat = (nodeId: string): ClusterHeartbeat => ({
      v: 1, nodeId, startedAtMs: 1, seq: 1, sentAtMs: 1, roles: ["api"], replacing: [], leases: [],
      resources: { freeMemoryBytes: 1, totalMemoryBytes: 2, cpuLoad1: 0, cpus: 1 },
    });
    for (let i = 0; i < heartbeatNodesMax + 5; i++) t.record(beat(`n${i}`), 1_000);
    expect(t.list(1_000, 60_000)).toHaveLength(heartbeatNodesMax);
    expect(t.ignored).toBe(5);
    t.record(beat("n0"), 50_000);
    expect(t.list(70_000, 60_000).map((e) => e.nodeId)).toEqual(["n0"]);
  });

  it("cloudNodeFromHealth maps a node's /healthz; health rows win over connz rows", () => {
    const ok = cloudNodeFromHealth("http://n:1/healthz", { status: "ok", nodeId: "c1", roles: ["ingest", "api"], nats: { connected: true, server: "n0" } }, null, 5);
    expect(ok).toEqual({ nodeId: "c1", roles: ["ingest", "api"], health: "up", lastSeenMs: 5, detail: "ok · NATS n0" });
    expect(cloudNodeFromHealth("u", { status: "draining", nodeId: "c2", roles: [] }, null, 5).health).toBe("suspect");
    expect(cloudNodeFromHealth("u", { status: "disconnected", nodeId: "c3", roles: [] }, null, 5).health).toBe("down");
    expect(cloudNodeFromHealth("http://x/healthz", null, "connection refused", 5))
      .toEqual({ nodeId: "http://x/healthz", roles: [], health: "down", lastSeenMs: null, detail: "connection refused" });
    const merged = mergeCloudNodes([ok], [{ nodeId: "c1", roles: [], health: "up", lastSeenMs: 5, detail: "connz" }, { nodeId: "c0", roles: [], health: "up", lastSeenMs: 5, detail: "connz" }]);
    expect(merged.map((n) => [n.nodeId, n.roles.length])).toEqual([["c0", 0], ["c1", 2]]);
  });
});
