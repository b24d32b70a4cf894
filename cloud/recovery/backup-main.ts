// Operator CLI for data restore:
//
//   tsx cloud/recovery/backup-main.ts backup  --nats URL[,URL] --dir DIR [--kv B1,B2] [--streams S1,S2]
//   tsx cloud/recovery/backup-main.ts restore --nats URL[,URL] --dir DIR [--replicas N]
//   tsx cloud/recovery/backup-main.ts verify  --dir DIR
//
// --kv defaults to the device state, registry and commands buckets that
// exist. The Raft control plane's snapshot is not captured here yet (its
// service has no snapshot endpoint); backupCluster/restoreCluster take it
// as a callback when one is given. Progress goes to stderr, the manifest or
// report (JSON) to stdout. Exit codes: 0 ok, 1 failed (including a digest
// mismatch), 2 usage.

import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { commandsBucket } from "../commands";
import { registryBucket } from "../registry";
import { deviceStateBucket } from "../state";
import { backupCluster, readBackup, restoreCluster } from "./backup";

const USAGE = `usage: backup-main.ts backup|restore|verify --dir DIR [--nats URLS] [--kv B,..] [--streams S,..] [--replicas N]`;

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
      replicas: { type: "string" }, help: { type: "boolean" },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd || !values.dir || !["backup", "restore", "verify"].includes(cmd)) {
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
    if (cmd === "backup") {
      const kvBuckets = list(values.kv) ?? (await existingBuckets(nc));
      process.stderr.write(`backing up KV ${kvBuckets.join(", ") || "(none)"}, streams ${list(values.streams)?.join(", ") || "(none)"} to ${values.dir}\n`);
      const manifest = await backupCluster({
        nc, dir: values.dir, kvBuckets, streams: list(values.streams) ?? [], onProgress: progress,
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
