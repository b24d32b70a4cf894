// The cache as the product runs it, against a real nats-server: three cache
// services whose ring comes from real SWIM membership drivers, invalidated
// by their watches of the device-state KV bucket. One node is killed (its
// connections closed, its membership silenced): reads fail over to the next
// owner, the ring rebalances once SWIM sees it gone, and no read returns a
// value older than an acknowledged invalidation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { CacheNamespace, cacheKey, cachedDeviceState, defaultCacheSettings, startCacheService, type CacheService } from "../../../cloud/cache";
import { createLogger } from "../../../cloud/base";
import { MembershipDriver } from "../../../cloud/membership";
import { NatsPool } from "../../../cloud/nats";
import { ensureDeviceStateBucket } from "../../../cloud/state";
import { startNats, type NatsCluster } from "../../harness/nats";
import { until } from "../../harness/wait";

interface Member { id: string; nc: NatsConnection; pool: NatsPool; driver: MembershipDriver; svc: CacheService }

let nats: NatsCluster;
let kv: KV;
let admin: NatsConnection;
const members: Member[] = [];
const log = createLogger({ level: "error" });

async function startMember(id: string): Promise<Member> {
  const nc = await connect({ servers: nats.servers, name: id });
  const pool = await NatsPool.open({ servers: nats.servers, name: `${id}-pool` }, 2, { healthCheckMs: 0 });
  // Heartbeats every 300 ms: the ring forms quickly, and a killed node stays in it long enough to see reads fail over.
  const driver = new MembershipDriver({ nc, nodeId: id, heartbeatIntervalMs: 300 });
  driver.setAnnounced({ roles: ["cache"] });
  driver.start();
  const svc = await startCacheService({
    nodeId: id, settings: { ...defaultCacheSettings(), timeoutMs: 300, replicationFactor: 2 }, pool, nc, serve: true, watchRegistryKv: false, log,
  });
  svc.setMembership(driver);
  return { id, nc, pool, driver, svc };
}

beforeAll(async () => {
  nats = await startNats();
  admin = await connect({ servers: nats.servers, name: "admin" });
  kv = await ensureDeviceStateBucket(admin);
  for (const id of ["cache-a", "cache-b", "cache-c"]) members.push(await startMember(id));
  await until("every ring holds the three cache nodes and every watch is live",
    () => members.every((m) => m.svc.view!.ring.size === 3 && m.svc.watches.every((w) => w.live)), 30_000);
}, 90_000);

afterAll(async () => {
  for (const m of members) {
    await m.svc.stop().catch(() => undefined);
    await m.driver.stop().catch(() => undefined); // a killed member's connection is closed: this only clears its timers
    if (!m.nc.isClosed()) await m.nc.close();
    await m.pool.drain().catch(() => undefined);
  }
  await admin?.close();
  await nats?.stop();
});

const enc = new TextEncoder();

async function put(deviceId: string, v: number): Promise<number> {
  return kv.put(deviceId, enc.encode(JSON.stringify({ deviceId, v })));
}

/** Waits until every live node's watch applied `revision`: the invalidation is acknowledged. */
async function acknowledged(revision: number, live: Member[]): Promise<void> {
  await until(`invalidation of revision ${revision} applied on every live cache node`, () => live.every((m) => m.svc.watches[0]!.revision >= revision), 30_000);
}

describe("ring cache with a node killed", () => {
  it("reads through, invalidates on KV change, fails over, rebalances, never reads stale after an acknowledged invalidation", async () => {
    const reader = members[2]!;
    const c = reader.svc.client!;
    let loads = 0;
    const state = cachedDeviceState<{ v: number }>({
      cache: c, ttlMs: 60_000,
      load: async (id) => {
        loads++;
        const e = await kv.get(id);
        return e && e.operation === "PUT" ? { state: e.json<{ v: number }>(), revision: e.revision } : null;
      },
    });
    const devices = Array.from({ length: 30 }, (_, i) => `dev-${i}`);
    let version = 1;
    let lastRev = 0;
    for (const d of devices) lastRev = await put(d, version);
    await acknowledged(lastRev, members);
    for (const d of devices) expect((await state.getDeviceState(d))!.v).toBe(version);
    const loadsAfterFirst = loads;
    for (const d of devices) expect((await state.getDeviceState(d))!.v).toBe(version);
    expect(loads).toBe(loadsAfterFirst); // the second pass is all hits
    expect(c.stats.hits).toBeGreaterThanOrEqual(devices.length);

    // A change invalidates on the owners; once acknowledged, no read returns the old value.
    version = 2;
    for (const d of devices) lastRev = await put(d, version);
    await acknowledged(lastRev, members);
    for (const d of devices) expect((await state.getDeviceState(d))!.v).toBe(version);

    // Kill a node (not the reader): its sockets close at once, no SWIM leave is sent, its heartbeats just stop.
    const victim = members.find((m) => m.id !== reader.id)!;
    const victimPrimary = devices.filter((d) => reader.svc.view!.ownersOf(cacheKey(CacheNamespace.DeviceState, d))[0] === victim.id);
    expect(victimPrimary.length).toBeGreaterThan(0);
    const failoversBefore = c.stats.failovers;
    await victim.pool.drain();
    await victim.nc.close();
    const live = members.filter((m) => m !== victim);

    // Before SWIM notices, reads of the keys the victim was primary for fail over to the next owner on the ring.
    // (The ring is read synchronously when a read starts: a key counts when the victim was in the ring at that moment.)
    let readWhileInRing = 0;
    for (const d of victimPrimary) {
      if (reader.svc.view!.ring.has(victim.id)) readWhileInRing++;
      expect((await state.getDeviceState(d))!.v).toBe(version);
    }
    expect(readWhileInRing).toBeGreaterThan(0);
    expect(c.stats.failovers - failoversBefore).toBeGreaterThanOrEqual(readWhileInRing);
    for (const d of devices) expect((await state.getDeviceState(d))!.v).toBe(version);

    version = 3;
    for (const d of devices) lastRev = await put(d, version);
    await acknowledged(lastRev, live);
    for (const d of devices) expect((await state.getDeviceState(d))!.v).toBe(version);

    // The ring rebalances to the two survivors; explicit invalidations are acknowledged by every owner.
    await until("the survivors' rings drop the killed node", () => live.every((m) => m.svc.view!.ring.size === 2), 30_000);
    expect(await c.delete(cacheKey(CacheNamespace.DeviceState, devices[0]!))).toBe(true);
    version = 4;
    for (const d of devices) lastRev = await put(d, version);
    await acknowledged(lastRev, live);
    for (const d of devices) expect((await state.getDeviceState(d))!.v).toBe(version);
    for (const d of devices) expect((await state.getDeviceState(d))!.v).toBe(version);
    expect(c.stats.unavailable).toBe(0);
  }, 120_000);
});
