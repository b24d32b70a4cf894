// Backups as the product runs them (cloud/recovery/data-ops.ts), on a real
// nats-server and a real control-plane replica: scheduled backups are pruned
// to `retain` (directories deleted only after the fenced catalog write, and
// only ones that are backups), a run waits for the data-ops lock and gives
// up when another holds it, and a holder whose lock moved on cannot record
// its backup or delete anything.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlaneLock } from "../../../cloud/lock";
import { BackupCatalog, DATA_OPS_LOCK, DataOpsBusyError, backupName, runBackup, type BackupRecord } from "../../../cloud/recovery";
import { ensureDeviceStateBucket } from "../../../cloud/state";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { startNats, type NatsCluster } from "../../harness/nats";

let nats: NatsCluster;
let nc: NatsConnection;
let cp: InProcessControlPlane;
let root: string;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
  cp = await startControlPlaneInProcess(nats.servers[0]!);
  root = mkdtempSync(path.join(tmpdir(), "xsfleet-dataops-"));
  await (await ensureDeviceStateBucket(nc, { replicas: 1 })).put("dev-1", new TextEncoder().encode("{}"));
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await nc?.drain();
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("backups under the data-ops lock with a fenced catalog", () => {
  it("prunes scheduled backups to retain, deleting only backup directories, after the catalog write", async () => {
    const catalog = await BackupCatalog.openKv(nc, 1);
    const lock = new ControlPlaneLock({ propose: cp.client.proposer(), ownerId: "n1" });
    const dir = path.join(root, "scheduled");
    // A foreign entry the catalog names but that is no backup: retention must leave it alone.
    const decoy = path.join(root, "important");
    mkdirSync(decoy);
    writeFileSync(path.join(decoy, "data"), "keep me");
    const first = await lock.acquire(DATA_OPS_LOCK, { ttlMs: 10_000, timeoutMs: 0 });
    if (!first.ok) throw new Error("lock");
    const fake: BackupRecord = { name: "important", dir: decoy, node: "x", createdAtMs: 1, scheduled: true, bytes: 0, sources: [] };
    expect((await catalog.record(first.lock.token, "x", fake, undefined)).ok).toBe(true);
    await first.lock.release();

    const runs = [];
    for (let i = 0; i < 3; i++) {
      runs.push(await runBackup({
        nc, dir: path.join(dir, backupName(Date.now(), "n1")), control: cp.client, kvBuckets: ["XSF_DEVICE_STATE"], lock, lockWaitMs: 5_000,
        writer: "n1", catalog, scheduled: { retain: 2 },
      }));
    }
    const listed = await catalog.list();
    expect(listed.filter((b) => b.scheduled).map((b) => b.name)).toEqual(runs.slice(1).map((r) => r.record.name));
    expect(runs[1]!.pruned.map((b) => b.name)).toEqual(["important"]);
    expect(runs[2]!.pruned.map((b) => b.name)).toEqual([runs[0]!.record.name]);
    expect(existsSync(runs[0]!.record.dir)).toBe(false);
    expect(existsSync(runs[2]!.record.dir)).toBe(true);
    expect(existsSync(path.join(decoy, "data"))).toBe(true);
  });

  it("waits for the lock, gives up when another backup or restore holds it, and a lapsed holder cannot record or prune", async () => {
    const catalog = await BackupCatalog.openKv(nc, 1);
    const other = new ControlPlaneLock({ propose: cp.client.proposer(), ownerId: "n2" });
    const held = await other.acquire(DATA_OPS_LOCK, { ttlMs: 60_000, timeoutMs: 0 });
    if (!held.ok) throw new Error("lock");
    const lock = new ControlPlaneLock({ propose: cp.client.proposer(), ownerId: "n1" });
    const busy = runBackup({
      nc, dir: path.join(root, "busy", backupName(Date.now(), "n1")), control: cp.client, kvBuckets: [], lock, lockWaitMs: 300, writer: "n1", catalog,
    });
    await expect(busy).rejects.toBeInstanceOf(DataOpsBusyError);
    await expect(busy).rejects.toThrow(/held by n2/);
    // n2 records with its token; a write with an older token (a holder paused past its lease) is refused.
    const mine: BackupRecord = { name: "backup-x", dir: path.join(root, "x"), node: "n2", createdAtMs: Date.now(), scheduled: false, bytes: 1, sources: [] };
    expect((await catalog.record(held.lock.token, "n2", mine, undefined)).ok).toBe(true);
    expect(await catalog.record(held.lock.token - 1, "zombie", { ...mine, name: "backup-zombie", scheduled: true }, 1)).toEqual({ ok: false, highestToken: held.lock.token });
    expect((await catalog.list()).some((b) => b.name === "backup-zombie")).toBe(false);
    await held.lock.release();
  });
});
