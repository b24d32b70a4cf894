// The dashboard HTTP server over an in-memory source: JSON endpoints, SSE,
// validation (400 with a clear message), unknown paths, limits, failures.
import { afterEach, describe, expect, it } from "vitest";
import { startDashboard } from "../../../cloud/dashboard/server";
import { MemoryDashboardSource } from "../../../cloud/dashboard/memory-source";
import { demoCluster, demoFleet } from "../../../cloud/dashboard/demo";
import type { DashboardHandle, DashboardLimits, DeviceRow } from "../../../cloud/dashboard/types";
import { openSse } from "./sse-client";

const nowMs = 1_700_000_000_000;
let handles: DashboardHandle[] = [];

afterEach(async () => {
  await Promise.all(handles.map((h) => h.stop()));
  handles = [];
});

async function start(source: MemoryDashboardSource, limits: Partial<DashboardLimits> = {}): Promise<DashboardHandle> {
  const h = await startDashboard({ port: 0, source, limits });
  handles.push(h);
  return h;
}

function fleetSource(devices = 30, history = false): MemoryDashboardSource {
  return new MemoryDashboardSource({ fleet: demoFleet(devices, nowMs, 42), cluster: demoCluster(nowMs, 1), history, nowMs });
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("dashboard JSON endpoints", () => {
  it("GET /api/fleet returns the snapshot's totals and the first page", async () => {
    const src = fleetSource(30);
    const h = await start(src);
    const { status, body } = await getJson(`${h.url}api/fleet`);
    expect(status).toBe(200);
    const snap = src.fleetSnapshot;
    const totals = body.totals as { devices: number; online: number; offline: number; unknown: number };
    expect(totals.devices).toBe(30);
    expect(totals.online + totals.offline + totals.unknown).toBe(30);
    expect(totals.online).toBe(snap.devices.filter((d) => d.presence === "online").length);
    expect(body.matched).toBe(30);
    const rows = body.devices as DeviceRow[];
    expect(rows).toHaveLength(30);
    expect(rows.map((d) => d.deviceId)).toEqual(snap.devices.map((d) => d.deviceId).sort());
    expect(rows.find((d) => d.deviceId === snap.devices[0]!.deviceId)).toEqual(snap.devices[0]);
    expect(body.history).toBe(false);
  });

  it("pages, filters and sorts on the server", async () => {
    const h = await start(fleetSource(30));
    const page2 = await getJson(`${h.url}api/fleet?offset=10&limit=10`);
    expect((page2.body.devices as DeviceRow[]).length).toBe(10);
    expect(page2.body.offset).toBe(10);

    const offline = await getJson(`${h.url}api/fleet?presence=offline&limit=200`);
    const off = offline.body.devices as DeviceRow[];
    expect(off.length).toBeGreaterThan(0);
    expect(off.every((d) => d.presence === "offline")).toBe(true);
    expect(offline.body.matched).toBe(off.length);

    // Case-insensitive, over id, role, firmware, location and the relaying gateway.
    const gw = (await getJson(`${h.url}api/fleet?q=GW-&limit=200`)).body.devices as DeviceRow[];
    expect(gw.some((d) => d.deviceId.startsWith("gw-"))).toBe(true);
    expect(gw.some((d) => d.via.startsWith("gw-") && !d.deviceId.startsWith("gw-"))).toBe(true);
    expect(gw.every((d) => d.deviceId.startsWith("gw-") || d.via.startsWith("gw-"))).toBe(true);
    const gateways = (await getJson(`${h.url}api/fleet?role=gateway&limit=200`)).body.devices as DeviceRow[];
    expect(gateways.length).toBeGreaterThan(0);
    expect(gateways.every((d) => d.role === "gateway")).toBe(true);

    const byRssi = (await getJson(`${h.url}api/fleet?sort=rssiDbm&order=desc&limit=200`)).body.devices as DeviceRow[];
    const known = byRssi.filter((d) => d.rssiDbm !== null).map((d) => d.rssiDbm!);
    expect(known).toEqual([...known].sort((a, b) => b - a));
    // Unknown values sort last whichever the order.
    const firstNull = byRssi.findIndex((d) => d.rssiDbm === null);
    if (firstNull >= 0) expect(byRssi.slice(firstNull).every((d) => d.rssiDbm === null)).toBe(true);
  });

  it("GET /api/cluster returns the cluster snapshot as the source gave it", async () => {
    const src = fleetSource(5);
    const h = await start(src);
    const { status, body } = await getJson(`${h.url}api/cluster`);
    expect(status).toBe(200);
    expect(body).toEqual(JSON.parse(JSON.stringify(src.clusterSnapshot)));
  });

  it("caches snapshots for snapshotTtlMs: many requests, one source call", async () => {
    const src = fleetSource(5);
    const h = await start(src, { snapshotTtlMs: 60_000 });
    await Promise.all(Array.from({ length: 8 }, () => fetch(`${h.url}api/fleet`).then((r) => r.json())));
    await fetch(`${h.url}api/fleet?presence=online`).then((r) => r.json());
    expect(src.fleetCalls).toBe(1);
  });

  it("GET /healthz answers", async () => {
    const h = await start(fleetSource(1));
    const { status, body } = await getJson(`${h.url}healthz`);
    expect(status).toBe(200);
    expect(body.ok).toBe(true);
  });

  it("GET / serves one self-contained page (no external assets)", async () => {
    const h = await start(fleetSource(1));
    const res = await fetch(h.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain("<title>xsfleet dashboard</title>");
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?http/i);
    for (const api of ["/api/fleet", "/api/cluster", "/api/events", "/api/history"]) expect(html).toContain(api);
  });
});

describe("dashboard request validation", () => {
  const bad: Array<[string, RegExp]> = [
    ["api/fleet?limit=0", /"limit" must be between 1 and 200/],
    ["api/fleet?limit=201", /"limit" must be between 1 and 200/],
    ["api/fleet?limit=ten", /"limit" must be an integer/],
    ["api/fleet?offset=-1", /"offset" must be between 0/],
    ["api/fleet?presence=asleep", /"presence" must be one of online, offline, unknown/],
    ["api/fleet?sort=colour", /"sort" must be one of deviceId/],
    ["api/fleet?order=up", /"order" must be one of asc, desc/],
    ["api/fleet?limit=5&limit=6", /"limit" given 2 times/],
    ["api/fleet?colour=red", /unknown parameter "colour"; allowed: offset, limit/],
    [`api/fleet?q=${"x".repeat(65)}`, /"q" is longer than 64/],
    ["api/cluster?x=1", /takes no parameters/],
    ["api/history?channel=temp", /"device" is required/],
    ["api/history?device=a.b&channel=temp", /"device" is not a device id/],
    ["api/history?device=d1", /"channel" is required/],
    ["api/history?device=d1&channel=temp&fromMs=20&toMs=10", /"fromMs" \(20\) must be before "toMs" \(10\)/],
    ["api/history?device=d1&channel=temp&fromMs=0&toMs=999999999999", /wider than the/],
    ["api/history?device=d1&channel=temp&limit=100000", /"limit" must be between 1 and 2000/],
    ["api/events?after=x", /"after" must be an integer/],
    ["api/events?since=1", /unknown parameter "since"/],
  ];
  it.each(bad)("GET /%s → 400", async (path, message) => {
    const h = await start(fleetSource(3, true));
    const { status, body } = await getJson(`${h.url}${path}`);
    expect(status).toBe(400);
    expect(body.error).toMatch(message);
  });

  it("unknown path → 404 naming the real ones", async () => {
    const h = await start(fleetSource(1));
    const { status, body } = await getJson(`${h.url}api/devices`);
    expect(status).toBe(404);
    expect(body.error).toMatch(/no such page: \/api\/devices; try \/ or \/api\/fleet/);
  });

  it("non-GET → 405: the dashboard is read-only", async () => {
    const h = await start(fleetSource(1));
    const res = await fetch(`${h.url}api/fleet`, { method: "POST", body: "{}" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  it("an over-long URL → 414", async () => {
    const h = await start(fleetSource(1), { urlBytesMax: 100 });
    const res = await fetch(`${h.url}api/fleet?q=${"a".repeat(200)}`);
    expect(res.status).toBe(414);
  });

  it("a failing source → 502 with its message; a slow one → 504", async () => {
    const src = fleetSource(1);
    src.failWith = new Error("KV bucket gone");
    const h = await start(src, { snapshotTtlMs: 1 });
    const failed = await getJson(`${h.url}api/fleet`);
    expect(failed.status).toBe(502);
    expect(failed.body.error).toMatch(/dashboard source failed: KV bucket gone/);

    const slow = new MemoryDashboardSource();
    slow.cluster = () => new Promise(() => {});
    const h2 = await start(slow, { sourceTimeoutMs: 200 });
    const timedOut = await getJson(`${h2.url}api/cluster`);
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.error).toMatch(/did not answer within 200 ms/);
  });
});

describe("dashboard history", () => {
  it("serves the source's points for a device and channel", async () => {
    const src = fleetSource(3, true);
    src.historyPoints!.set("env-001/temp", [{ timeMs: 1000, value: 20.5 }, { timeMs: 2000, value: 21 }, { timeMs: 9000, value: 30 }]);
    const h = await start(src);
    const { status, body } = await getJson(`${h.url}api/history?device=env-001&channel=temp&fromMs=0&toMs=5000`);
    expect(status).toBe(200);
    expect(body.points).toEqual([{ timeMs: 1000, value: 20.5 }, { timeMs: 2000, value: 21 }]);
    expect((await getJson(`${h.url}api/fleet`)).body.history).toBe(true);
  });

  it("→ 501 when the source keeps no history", async () => {
    const h = await start(fleetSource(3, false));
    const { status, body } = await getJson(`${h.url}api/history?device=env-001&channel=temp`);
    expect(status).toBe(501);
    expect(body.error).toMatch(/history is not available/);
  });
});

describe("dashboard live events (SSE)", () => {
  it("delivers an event emitted by the source, then replays it to a late client", async () => {
    const src = fleetSource(3);
    const h = await start(src);
    const sse = await openSse(`${h.url}api/events`);
    expect(sse.status).toBe(200);
    src.emit({ timeMs: nowMs, kind: "offline", deviceId: "env-001", summary: "device offline", detail: { reason: "will" } });
    const f = await sse.waitFor((x) => x.data.includes("env-001"));
    expect(JSON.parse(f.data)).toEqual({ id: 1, timeMs: nowMs, kind: "offline", deviceId: "env-001", summary: "device offline", detail: { reason: "will" } });
    expect(f.id).toBe("1");
    sse.close();

    src.emit({ timeMs: nowMs + 1, kind: "online", deviceId: "env-002", summary: "device online" });
    const late = await openSse(`${h.url}api/events`);
    await late.waitFor((x) => x.data.includes("env-002"));
    expect(late.frames.map((x) => x.id)).toEqual(["1", "2"]);
    late.close();

    // Reconnect with Last-Event-ID: only what came after.
    const resumed = await openSse(`${h.url}api/events`, { "last-event-id": "1" });
    await resumed.waitFor((x) => x.id === "2");
    expect(resumed.frames.map((x) => x.id)).toEqual(["2"]);
    resumed.close();
  });

  it("bounds the event ring and each event's detail", async () => {
    const src = fleetSource(1);
    const h = await start(src, { eventBufferMax: 3, eventDetailBytesMax: 50 });
    for (let i = 0; i < 5; i++) src.emit({ timeMs: i, kind: "detection", deviceId: "d1", summary: `n${i}`, detail: { big: "x".repeat(i * 20) } });
    const sse = await openSse(`${h.url}api/events`);
    const last = await sse.waitFor((x) => x.id === "5");
    expect(sse.frames.map((x) => x.id)).toEqual(["3", "4", "5"]);
    expect(JSON.parse(last.data).detail).toEqual({ omitted: expect.stringMatching(/exceeds 50/) });
    sse.close();
    const health = (await getJson(`${h.url}healthz`)).body;
    expect(health.eventsDropped).toBe(2);
  });

  it("refuses SSE clients beyond sseClientsMax with 503", async () => {
    const h = await start(fleetSource(1), { sseClientsMax: 2 });
    const a = await openSse(`${h.url}api/events`);
    const b = await openSse(`${h.url}api/events`);
    const res = await fetch(`${h.url}api/events`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/too many live event clients \(2\)/);
    a.close();
    b.close();
  });

  it("stop() ends live streams and unsubscribes from the source", async () => {
    const src = fleetSource(1);
    const h = await startDashboard({ port: 0, source: src });
    const sse = await openSse(`${h.url}api/events`);
    expect(src.listenerCount).toBe(1);
    await h.stop();
    await sse.ended;
    expect(src.listenerCount).toBe(0);
  });
});
