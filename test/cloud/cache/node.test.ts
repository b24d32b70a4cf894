// The cache as `npm start` wires it: two cloud nodes with the api,
// orchestration and cache roles (ring = their SWIM view) on a real
// nats-server in operator mode, each with its roles' least-privilege user
// (as `up` runs them); the API's registry and device-state reads go through the
// ring, writes invalidate, and the nodes answer the stats request the
// status line sums.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { ApiClient } from "../../../cloud/api";
import { FleetProbe } from "../../../cloud/cli/fleet-probe";
import { connectNats } from "../../../cloud/nats";
import { cacheStatsSubject } from "../../../cloud/subjects";
import type { CloudNode } from "../../../cloud/node";
import { emptyDeviceState, encodeState, ensureDeviceStateBucket } from "../../../cloud/state";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startRedis, uniqueKeyPrefix, type RedisServer } from "../../harness/redis";
import { until } from "../../harness/wait";
import { testConfig } from "../api/fixture";
import { startCloudNode } from "../../../cloud/node/node";
import { silentLogger } from "../../../cloud/base";

let nats: NatsCluster;
let redis: RedisServer;
let nc: NatsConnection;
const nodes: CloudNode[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats({ secure: true }), startRedis()]);
  nc = await connectNats({ servers: nats.servers, name: "cache-node-test", credsFile: nats.observerCreds() });
  await ensureDeviceStateBucket(nc);
  const roles = ["api", "orchestration", "cache"] as const;
  for (const id of ["cn-1", "cn-2"]) {
    nodes.push(await startCloudNode(testConfig(nats.servers, {
      nodeId: id, roles, registry: "kv", nats: { servers: nats.servers, credsFile: nats.creds(roles) },
      // No control plane in this test: leases on Redis.
      lock: { backend: "redis", redis: { host: redis.host, port: redis.port, keyPrefix: uniqueKeyPrefix("cache-node") } },
      orchestration: { heartbeatIntervalMs: 200 },
      cache: { replicationFactor: 2, timeoutMs: 500 },
    }), { log: silentLogger, processMetrics: false }));
  }
}, 90_000);

afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await nc?.close();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe("cache wired into cloud nodes", () => {
  it("serves API registry and device-state reads from the ring, invalidates on writes, and reports hits", async () => {
    const probe = new FleetProbe(nc);
    try {
      await until("the ring has formed on both nodes", async () => {
        const replies: { ringNodes: number }[] = [];
        for await (const m of await nc.requestMany(cacheStatsSubject, "", { strategy: "timer", maxWait: 300 })) replies.push(m.json<{ ringNodes: number }>());
        return replies.length === 2 && replies.every((r) => r.ringNodes === 2);
      }, 30_000);
      const api = new ApiClient(nc);
      await api.register("dev-c1", { room: "a" });
      for (let i = 0; i < 4; i++) expect((await api.get("dev-c1")).metadata).toEqual({ room: "a" });
      // A write invalidates on the owners before it returns: the next read sees it, whichever node answers.
      await api.setMetadata("dev-c1", { room: "b" });
      for (let i = 0; i < 4; i++) expect((await api.get("dev-c1")).metadata).toEqual({ room: "b" });

      // Device state: written by ingest into XSF_DEVICE_STATE; the cache nodes' watches invalidate it.
      const kv = await ensureDeviceStateBucket(nc);
      const st = emptyDeviceState("dev-c1");
      await kv.put("dev-c1", encodeState({ ...st, lastSeenMs: 1000 }));
      await until("device state readable", async () => ((await api.deviceState("dev-c1")) as { lastSeenMs: number } | null)?.lastSeenMs === 1000, 10_000);
      for (let i = 0; i < 4; i++) expect(((await api.deviceState("dev-c1")) as { lastSeenMs: number }).lastSeenMs).toBe(1000);
      await kv.put("dev-c1", encodeState({ ...st, lastSeenMs: 2000 }));
      await until("the change invalidated the cached state", async () => ((await api.deviceState("dev-c1")) as { lastSeenMs: number }).lastSeenMs === 2000, 10_000);
      for (let i = 0; i < 4; i++) expect(((await api.deviceState("dev-c1")) as { lastSeenMs: number }).lastSeenMs).toBe(2000);

      const sum = await probe.cache();
      expect(sum).not.toBeNull();
      expect(sum!.hits).toBeGreaterThan(0);
      expect(sum!.misses).toBeGreaterThan(0);
      expect(sum!.entries).toBeGreaterThan(0);
      expect(sum!.hitRate).toBeGreaterThan(0);
    } finally {
      probe.stop();
    }
  }, 90_000);
});
