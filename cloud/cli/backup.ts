// `xsfleet backup` and `xsfleet restore`: the operator's side of data
// restore (cloud/recovery/data-ops.ts). A backup holds the Raft control
// plane's state (a linearizable snapshot read through its API) and the KV
// buckets (device state, registry, commands), optionally streams; a restore
// loads it into a fresh cluster: the control plane through its log, the
// streams republished. Both hold the data-ops lock for their whole run, so a
// restore never runs beside a backup or another restore. Progress on
// stderr, the manifest / report as JSON on stdout. Exit 0 ok, 1 failed (a
// digest mismatch too), 2 usage.
import { hostname } from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ControlClient } from "../controlplane";
import { ControlPlaneLock, RedisLock, RedisPool, type DistributedLock } from "../lock";
import {
  BackupCatalog, backupName, existingBuckets, readBackup, runBackup, runRestore, DATA_OPS_LOCK, type Progress,
} from "../recovery";
import { intOption, parseCommand, stringOption, UsageError, type CommandSpec, type Parsed } from "./args";

const lockOptions = {
  lock: { type: "string", value: "control|redis|none", description: `lock held for the run (${DATA_OPS_LOCK}): the control plane's, Redis's (--redis), or none (only when nothing else can back up or restore)`, default: "control" },
  redis: { type: "string", value: "HOST:PORT", description: "Redis for --lock redis" },
  "lock-wait-ms": { type: "string", value: "MS", description: "wait this long for a running backup or restore to finish", default: "60000" },
} as const;

export const backupSpec: CommandSpec = {
  name: "backup",
  summary: "Back up a running xsfleet system: the Raft control plane (registry, leases, locks, members) and the KV buckets, optionally streams.",
  usage: "xsfleet backup [--nats URLS] [--dir DIR] [--kv B1,B2] [--streams S1,S2] [--no-control]",
  options: {
    nats: { type: "string", value: "URLS", description: "NATS URL(s) of the system, comma separated", default: "nats://127.0.0.1:4333" },
    dir: { type: "string", value: "DIR", description: "the backup directory to create (must not exist; default .state/backups/backup-<time>-<host>)" },
    kv: { type: "string", value: "B1,B2", description: "KV buckets (default: whichever of the device state, registry and commands buckets exist)" },
    streams: { type: "string", value: "S1,S2", description: "streams to include (default: none; XSF_HIST can be large)" },
    "no-control": { type: "boolean", description: "leave the control plane out (a system without one)" },
    ...lockOptions,
  },
  examples: ["xsfleet backup", "xsfleet backup --nats nats://10.0.0.5:4222 --dir /backups/2026-11-26 --streams XSF_HIST"],
};

export const restoreSpec: CommandSpec = {
  name: "restore",
  summary: "Restore a backup into a fresh xsfleet system: its control plane (which must hold no devices) through its log, then the KV buckets and streams; verifies every digest.",
  usage: "xsfleet restore --dir DIR [--nats URLS] [--replicas N] [--no-control] [--check]",
  options: {
    dir: { type: "string", value: "DIR", description: "the backup directory" },
    nats: { type: "string", value: "URLS", description: "NATS URL(s) of the target system", default: "nats://127.0.0.1:4333" },
    replicas: { type: "string", value: "N", description: "replicas of the restored streams (the target may differ from the source)" },
    "counter-gap": { type: "string", value: "N", description: "fencing tokens, role epochs and incarnations continue this far past the backup's", default: "1000000" },
    "no-control": { type: "boolean", description: "leave the control-plane snapshot out" },
    check: { type: "boolean", description: "only check the backup's files (sizes, SHA-256) and print its manifest; no NATS needed" },
    ...lockOptions,
  },
  examples: ["xsfleet restore --dir .state/backups/backup-2026-11-26T10-00-00-000Z-cloud-1 --nats nats://127.0.0.1:4333", "xsfleet restore --dir /backups/x --check"],
};

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Progress lines on stderr: each source's first and last step, and at most one line per second between. */
function progressPrinter(): Progress {
  const last = new Map<string, number>();
  return (p) => {
    const now = Date.now();
    const done = p.done >= p.total;
    if (!done && last.has(p.source) && now - last.get(p.source)! < 1_000) return;
    last.set(p.source, now);
    const unit = p.source === "control" ? "" : " messages";
    process.stderr.write(`  ${p.source}: ${p.done}/${p.total}${unit}${done ? " ✓" : ""}\n`);
  };
}

async function connectTo(p: Parsed): Promise<NatsConnection> {
  const servers = list(stringOption(p, "nats"))!;
  try {
    return await connect({ servers, name: `xsfleet-cli-${process.pid}`, timeout: 5_000 });
  } catch (e) {
    throw new Error(`cannot reach NATS at ${servers.join(",")} (${(e as Error).message}); pass --nats`);
  }
}

interface LockChoice { lock: DistributedLock | null; catalog: (nc: NatsConnection) => Promise<BackupCatalog | undefined>; close(): Promise<void> }

function checkLockOptions(p: Parsed, command: string): void {
  const kind = stringOption(p, "lock");
  if (kind !== "control" && kind !== "redis" && kind !== "none") throw new UsageError(`--lock must be control, redis or none, got ${JSON.stringify(kind)}`, command);
  if (kind === "redis" && !/^(?:redis:\/\/)?[^:]+:\d+$/.test(stringOption(p, "redis") ?? "")) throw new UsageError("--lock redis needs --redis HOST:PORT", command);
}

/** The data-ops lock service; `--lock control` uses the control plane even with --no-control (which only leaves its snapshot out). */
async function lockFor(p: Parsed, nc: NatsConnection, command: string): Promise<LockChoice> {
  const kind = stringOption(p, "lock");
  const ownerId = `xsfleet-${command}-${hostname().replace(/[^\x21-\x7e|]/g, "-")}-${process.pid}`;
  if (kind === "control") {
    const lock = new ControlPlaneLock({ propose: new ControlClient(nc, { clientId: ownerId, timeoutMs: 15_000 }).proposer(), ownerId });
    return { lock, catalog: (nc) => BackupCatalog.bindKv(nc), close: () => lock.close() };
  }
  if (kind === "redis") {
    const m = /^(?:redis:\/\/)?([^:]+):(\d+)$/.exec(stringOption(p, "redis") ?? "")!;
    const pool = await RedisPool.open({ host: m[1]!, port: Number(m[2]), name: ownerId }, 1);
    return { lock: new RedisLock({ pool, keyPrefix: "xsfleet:", ownerId }), catalog: async () => BackupCatalog.redis(pool, "xsfleet:"), close: () => pool.close() };
  }
  process.stderr.write(`warning: --lock none: nothing keeps another backup or restore from running at the same time\n`);
  return { lock: null, catalog: async () => undefined, close: async () => undefined };
}

export async function runBackupCommand(argv: string[]): Promise<number> {
  const p = parseCommand(backupSpec, argv);
  if (!p) return 0;
  const lockWaitMs = intOption(p, "lock-wait-ms", 0, 3_600_000);
  checkLockOptions(p, "backup");
  const nc = await connectTo(p);
  const control = p["no-control"] ? null : new ControlClient(nc, { clientId: `xsfleet-backup-${process.pid}`, timeoutMs: 15_000 });
  let choice: LockChoice | undefined;
  try {
    choice = await lockFor(p, nc, "backup");
    const writer = `cli-${hostname()}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64);
    const dir = path.resolve(stringOption(p, "dir") ?? path.join(".state", "backups", backupName(Date.now(), writer)));
    const kvBuckets = list(stringOption(p, "kv")) ?? (await existingBuckets(nc));
    const streams = list(stringOption(p, "streams")) ?? [];
    process.stderr.write(`backing up ${control ? "the control plane, " : ""}KV ${kvBuckets.join(", ") || "(none)"}, streams ${streams.join(", ") || "(none)"} to ${dir}\n`);
    const catalog = await choice.catalog(nc);
    const r = await runBackup({
      nc, dir, control, kvBuckets, streams, lock: choice.lock ?? noLock, lockWaitMs, writer, ...(catalog ? { catalog } : {}),
      onProgress: progressPrinter(),
    });
    process.stderr.write(`backup written: ${r.record.bytes} bytes in ${dir}${catalog ? " (recorded in the backup catalog)" : ""}\n`);
    process.stdout.write(`${JSON.stringify(r.manifest, null, 1)}\n`);
    return 0;
  } finally {
    await choice?.close();
    await nc.drain().catch(() => undefined);
  }
}

export async function runRestoreCommand(argv: string[]): Promise<number> {
  const p = parseCommand(restoreSpec, argv);
  if (!p) return 0;
  const dir = stringOption(p, "dir");
  if (!dir) throw new UsageError("--dir is required: the backup directory to restore", "restore");
  if (p.check) {
    const { manifest } = await readBackup(dir);
    process.stderr.write(`backup ${dir}: ${manifest.files.length} files, every size and SHA-256 as in its manifest\n`);
    process.stdout.write(`${JSON.stringify(manifest, null, 1)}\n`);
    return 0;
  }
  const replicas = stringOption(p, "replicas") !== undefined ? intOption(p, "replicas", 1, 5) : undefined;
  const counterGap = intOption(p, "counter-gap", 0, 1_000_000_000_000);
  const lockWaitMs = intOption(p, "lock-wait-ms", 0, 3_600_000);
  checkLockOptions(p, "restore");
  const nc = await connectTo(p);
  const control = p["no-control"] ? null : new ControlClient(nc, { clientId: `xsfleet-restore-${process.pid}`, timeoutMs: 15_000 });
  let choice: LockChoice | undefined;
  try {
    choice = await lockFor(p, nc, "restore");
    process.stderr.write(`restoring ${dir} into ${stringOption(p, "nats")}${control ? " (control plane first)" : ""}\n`);
    const report = await runRestore({
      nc, dir, control, lock: choice.lock ?? noLock, lockWaitMs, counterGap, onProgress: progressPrinter(), ...(replicas !== undefined ? { replicas } : {}),
    });
    process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
    if (!report.ok) process.stderr.write("restore finished, but some content digests differ from the backup\n");
    else process.stderr.write(`restored: ${report.files.filter((f) => !f.skipped).map((f) => f.source).join(", ")}; every digest matches\n`);
    return report.ok ? 0 : 1;
  } finally {
    await choice?.close();
    await nc.drain().catch(() => undefined);
  }
}

/** `--lock none`: grants at once, fences nothing (the operator vouches that nothing else runs). */
const noLock: DistributedLock = {
  ownerId: "none",
  acquire: async (name, o) => ({ ok: true, attempts: 1, lock: { name, token: 1, ttlMs: o.ttlMs, release: async () => ({ ok: true }), extend: async () => ({ ok: true }) } }),
  release: async () => ({ ok: true }),
  extend: async () => ({ ok: true }),
  checkFence: async () => true,
  close: async () => undefined,
};
