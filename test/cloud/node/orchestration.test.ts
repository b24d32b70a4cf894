// The orchestration role with the Redis lock service (`lock.backend redis`)
// and no control plane (`registry kv`): a cloud node contends for its
// singletons on a real Redis, takes a scheduled backup of the KV buckets,
// and records it in the catalog, which lives in Redis beside the lock.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisPool } from "../../../cloud/lock";
import { BACKUP_LEASE, BackupCatalog } from "../../../cloud/recovery";
import type { CloudNode } from "../../../cloud/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startRedis, uniqueKeyPrefix, type RedisServer } from "../../harness/redis";
import { waitFor } from "../../harness/wait";
import { startTestNode } from "../api/fixture";

let nats: NatsCluster;
let redis: RedisServer;
let pool: RedisPool;
let root: string;
const keyPrefix = uniqueKeyPrefix("orch");

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  pool = await RedisPool.open({ host: redis.host, port: redis.port, name: "xsfleet-orch-test" }, 1);
  root = mkdtempSync(path.join(tmpdir(), "xsfleet-orch-"));
});

afterAll(async () => {
  if (pool) {
    const keys = await pool.get().keys(`${keyPrefix}*`);
    if (keys.length > 0) await pool.get().del(...keys);
    await pool.close();
  }
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

describe("orchestration role on the Redis lock service", () => {
  it("holds its singletons on Redis and records scheduled backups in the Redis catalog", async () => {
    let node: CloudNode | undefined;
    try {
      node = await startTestNode(nats.servers, {
        nodeId: "orch-redis", roles: ["api", "commands", "orchestration"], registry: "kv",
        lock: { backend: "redis", redis: { host: redis.host, port: redis.port, keyPrefix } },
        orchestration: { leaseTtlMs: 2_000, heartbeatIntervalMs: 250, backup: { dir: path.join(root, "backups"), intervalMs: 60_000, retain: 2 } },
      });
      const catalog = BackupCatalog.redis(pool, keyPrefix);
      const backup = await waitFor("a scheduled backup in the Redis catalog", async () => (await catalog.list())[0]);
      expect(backup).toMatchObject({ node: "orch-redis", scheduled: true });
      // No control plane here: the backup holds the KV buckets only.
      expect(backup.sources).not.toContain("control");
      expect(backup.sources).toEqual(expect.arrayContaining(["xsfleet_commands", "xsfleet_registry"]));
      expect(await pool.get().get(`${keyPrefix}lock:{${BACKUP_LEASE}}`)).toMatch(/^orch-redis\|\d+$/);
    } finally {
      await node?.stop();
    }
  }, 60_000);
});
