// Operator CLI for data restore:
//
//   tsx cloud/recovery/backup-main.ts backup  --nats URL[,URL] --dir DIR [--kv B1,B2] [--streams S1,S2] [--control local|none]
//   tsx cloud/recovery/backup-main.ts restore --nats URL[,URL] --dir DIR [--replicas N] [--control local|none]
//   tsx cloud/recovery/backup-main.ts verify  --dir DIR
//
// --kv defaults to the device state, registry and commands buckets that
// exist; --control local backs up / restores the control state machine
// served by control-adapter.ts (the Raft control plane has no snapshot
// endpoint yet). Progress goes to stderr, the manifest or report (JSON) to
// stdout. Exit codes: 0 ok, 1 failed (including a digest mismatch), 2 usage.

import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { commandsBucket } from "../commands/store";
import { registryBucket } from "../registry/kv-registry";
import { deviceStateBucket } from "../state/store";
import { backupCluster, readBackup, restoreCluster } from "./backup";
import { fetchControlSnapshot, restoreControlSnapshot } from "./control-adapter";

const USAGE = `usage: backup-main.ts backup|restore|verify --dir DIR [--nats URLS] [--kv B,..] [--streams S,..] [--control local|none] [--replicas N]`;

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

async function existingBuckets(nc: NatsConnection): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const out: string[] = [];
  for (const b of [deviceStateBucket, registryBucket, commandsBucket]) {
    try {
      await jsm.streams.info(`KV_${b}`);
      out.push(b);
    } catch {
      // Not created on this cluster (role never ran): nothing to back up.
    }
  }
  return out;
}

const progress = (p: { source: string; done: number; total: number }): void => {
  process.stderr.write(`  ${p.source}: ${p.done}/${p.total}\n`);
};

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      nats: { type: "string" }, dir: { type: "string" }, kv: { type: "string" }, streams: { type: "string" },
      control: { type: "string", default: "local" }, replicas: { type: "string" }, help: { type: "boolean" },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd || !values.dir || !["backup", "restore", "verify"].includes(cmd) || !["local", "none"].includes(values.control!)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (cmd === "verify") {
    const { manifest } = await readBackup(values.dir);
    process.stdout.write(`${JSON.stringify(manifest, null, 1)}\n`);
    return 0;
  }
  if (!values.nats) {
    process.stderr.write(`--nats is required for ${cmd}\n${USAGE}\n`);
    return 2;
  }
  const nc = await connect({ servers: values.nats.split(","), name: `xsfleet-${cmd}` });
  try {
    const withControl = values.control === "local";
    if (cmd === "backup") {
      const kvBuckets = list(values.kv) ?? (await existingBuckets(nc));
      process.stderr.write(`backing up ${withControl ? "control plane, " : ""}KV ${kvBuckets.join(", ") || "(none)"}, streams ${list(values.streams)?.join(", ") || "(none)"} to ${values.dir}\n`);
      const manifest = await backupCluster({
        nc, dir: values.dir, kvBuckets, streams: list(values.streams) ?? [], onProgress: progress,
        ...(withControl ? { controlSnapshot: () => fetchControlSnapshot(nc) } : {}),
      });
      process.stdout.write(`${JSON.stringify(manifest, null, 1)}\n`);
      return 0;
    }
    const replicas = values.replicas !== undefined ? Number(values.replicas) : undefined;
    if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 1 && replicas <= 5)) {
      process.stderr.write(`--replicas must be 1..5\n`);
      return 2;
    }
    const report = await restoreCluster({
      nc, dir: values.dir, onProgress: progress, ...(replicas !== undefined ? { replicas } : {}),
      ...(withControl ? {
        restoreControl: async (bytes: Uint8Array) => {
          const r = await restoreControlSnapshot(nc, bytes);
          if (!r.ok) throw new Error(`control snapshot refused: ${r.message ?? "unknown"}`);
        },
      } : {}),
    });
    process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
    if (!report.ok) process.stderr.write("restore finished but some content digests differ from the backup\n");
    return report.ok ? 0 : 1;
  } finally {
    await nc.drain();
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
