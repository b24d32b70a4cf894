// Singleton work (cloud/recovery/singletons.ts) with real parts: a Raft
// control-plane replica on a real nats-server serves the leases, the work is
// the product's scheduled backup. On node n1 it cannot run (its backup
// directory is a file): the supervisor restarts it with growing delays,
// then escalates, n1 gives the lease up, and n2 — where backups work —
// takes it over at once and writes the backup, recorded in the catalog.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlaneLock } from "../../../cloud/lock";
import { RecoveryHistory } from "../../../cloud/membership";
import { BACKUP_LEASE, BackupCatalog, SingletonHost, scheduledBackupWork } from "../../../cloud/recovery";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { startNats, type NatsCluster } from "../../harness/nats";
import { until, waitFor } from "../../harness/wait";

let nats: NatsCluster;
let nc: NatsConnection;
let cp: InProcessControlPlane;
let root: string;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
  cp = await startControlPlaneInProcess(nats.servers[0]!);
  root = mkdtempSync(path.join(tmpdir(), "xsfleet-singletons-"));
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await nc?.drain();
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("singleton work", () => {
  it("restarts crashing work with backoff, then escalates: the lease moves to a node where the work runs", async () => {
    const TTL_MS = 2_000;
    const catalog = await BackupCatalog.openKv(nc, 1);
    const notADir = path.join(root, "a-file");
    writeFileSync(notADir, "not a directory");
    const host = (nodeId: string, dir: string, history: RecoveryHistory): SingletonHost => {
      const lock = new ControlPlaneLock({ propose: cp.client.proposer(), ownerId: nodeId });
      const h = new SingletonHost({
        lock, ttlMs: TTL_MS, history, restart: { attemptsMax: 3, backoffBaseMs: 100, backoffMaxMs: 1_000, jitterRatio: 0.5, resetAfterMs: 60_000 },
      });
      h.add(scheduledBackupWork({ nc, nodeId, control: cp.client, lock, catalog, schedule: { dir, intervalMs: 60_000, retain: 3 }, history }));
      return h;
    };
    const h1 = new RecoveryHistory("n1");
    const n1 = host("n1", notADir, h1);
    n1.start();
    await until("n1 to hold the backup lease", () => n1.held().includes(BACKUP_LEASE));
    const h2 = new RecoveryHistory("n2");
    const n2 = host("n2", path.join(root, "backups"), h2);
    n2.start();
    try {
      const escalated = await waitFor("n1's supervisor to escalate", () => h1.list({ kind: "restart" }).find((e) => e.action === "escalated"));
      const acquired = await waitFor("n2 to take the lease over", () => h2.list({ kind: "failover" }).find((e) => e.subject === BACKUP_LEASE && e.action === "acquired"));
      const written = await waitFor("n2's backup in the catalog", async () => (await catalog.list()).find((b) => b.node === "n2"));

      const restarts = h1.list({ kind: "restart" });
      expect(restarts.map((e) => e.action)).toEqual(["restarting", "restarting", "restarting", "escalated"]);
      for (const e of restarts.slice(0, 3)) expect(String((e.detail.exit as { error: string }).error)).toMatch(/ENOTDIR|not a directory/);
      const delays = restarts.slice(0, 3).map((e) => Number(e.detail.delayMs));
      expect(h1.list({ kind: "failover" }).map((e) => e.action)).toContain("stepped-down");
      expect(n1.held()).not.toContain(BACKUP_LEASE);
      expect(written.sources).toEqual(expect.arrayContaining(["control"]));
      expect(written.scheduled).toBe(true);
      console.log(`[recovery] singleton backup on n1 crashed (dir is a file): restarts after ${delays.join(", ")} ms, escalated; ` +
        `n2 took the lease ${acquired.atMs - escalated.atMs} ms after the escalation (TTL ${TTL_MS} ms) and wrote ${written.name}`);
    } finally {
      await Promise.all([n1.stop(), n2.stop()]);
    }
  }, 90_000);
});
