// Data restore with real servers: control-plane snapshot + device state and
// registry KV buckets + a stream backed up from one nats-server, restored
// into a fresh one, and checked equal (control snapshot bytes, KV and stream
// content digests). Corrupt or missing files are refused before any write.
// The control plane here is the state machine in process (one per "cluster"),
// reached through the same Proposer/DistributedLock interfaces as Raft's;
// backup-raft.test.ts runs the same with 3 replica processes and the CLI.

import { mkdtempSync, rmSync, writeFileSync, readFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandKind, ControlStateMachine } from "../../../cloud/control";
import { ControlPlaneLock } from "../../../cloud/lock";
import { openRegistryBucket, registryBucket } from "../../../cloud/registry";
import { deviceStateBucket, ensureDeviceStateBucket } from "../../../cloud/state";
import { backupCluster, digestKv, readBackup, restoreCluster, type BackupManifest } from "../../../cloud/recovery";
import { codecs } from "../../../cloud/compression";
import { createHash } from "node:crypto";
import { startNats, type NatsCluster } from "../../harness/nats";
import { RecoveryHistory } from "../../../cloud/membership/history";
import { localProposer } from "../../harness/local-proposer";

const STREAM = "XSF_TEST_HIST";
let src: NatsCluster;
let dst: NatsCluster;
let ncSrc: NatsConnection;
let ncDst: NatsConnection;
const controlSrc = new ControlStateMachine();
const controlDst = new ControlStateMachine();
let root: string;
const enc = new TextEncoder();

beforeAll(async () => {
  [src, dst] = await Promise.all([startNats(), startNats()]);
  ncSrc = await connect({ servers: src.servers });
  ncDst = await connect({ servers: dst.servers });
  root = mkdtempSync(path.join(tmpdir(), "xsfleet-backup-"));
});

afterAll(async () => {
  await Promise.all([ncSrc.drain(), ncDst.drain()]);
  await Promise.all([src.stop(), dst.stop()]);
  rmSync(root, { recursive: true, force: true });
});

async function seedSource(): Promise<void> {
  const propose = localProposer(controlSrc);
  for (let i = 0; i < 20; i++) {
    const r = await propose({ kind: CommandKind.DeviceRegister, deviceId: `dev-${i}`, role: "sensor", metadata: { room: `r${i % 4}` } });
    expect(r.ok).toBe(true);
  }
  await propose({ kind: CommandKind.DeviceUpdateMetadata, deviceId: "dev-1", metadata: { room: "r1", intervalMs: "5000" }, expectedRevision: 1 });
  expect((await new ControlPlaneLock({ propose, ownerId: "node-1" }).acquire("role/scheduler", { ttlMs: 60_000, timeoutMs: 0 })).ok).toBe(true);

  const state = await ensureDeviceStateBucket(ncSrc);
  for (let i = 0; i < 50; i++) await state.put(`dev-${i}`, enc.encode(JSON.stringify({ v: 1, deviceId: `dev-${i}`, temp: 20 + i / 10 })));
  await state.put("dev-3", enc.encode(JSON.stringify({ v: 1, deviceId: "dev-3", temp: 99 })));
  await state.delete("dev-7");
  // Compare-and-set writes (as ingest and the command store make them) carry expected-sequence headers,
  // which name the source's sequences; a purge leaves a gap, so the target's sequences differ.
  await state.put("dev-gone", enc.encode("{}"));
  await state.purge("dev-gone");
  const rev = await state.create("dev-cas", enc.encode(JSON.stringify({ v: 1, deviceId: "dev-cas", temp: 1 })));
  await state.update("dev-cas", enc.encode(JSON.stringify({ v: 1, deviceId: "dev-cas", temp: 2 })), rev);
  const registry = await openRegistryBucket(ncSrc, 1);
  for (let i = 0; i < 10; i++) await registry.put(`dev-${i}`, enc.encode(JSON.stringify({ deviceId: `dev-${i}`, role: "sensor" })));

  const jsm = await jetstreamManager(ncSrc);
  await jsm.streams.add({
    name: STREAM, subjects: ["xsfleet.v1.test.hist.>"], retention: RetentionPolicy.Limits, storage: StorageType.File,
    num_replicas: 1, max_msgs: 100_000, max_bytes: 64 * 1024 * 1024, discard: DiscardPolicy.Old,
  });
  const js = jetstream(ncSrc);
  for (let i = 0; i < 300; i++) await js.publish(`xsfleet.v1.test.hist.dev-${i % 7}`, enc.encode(`reading ${i}`));
}

describe("backup and restore", () => {
  it("restores control plane, KV buckets and streams into a fresh nats-server, equal to the original", async () => {
    await seedSource();
    const dir = path.join(root, "b1");
    const history = new RecoveryHistory("ops");
    const t0 = Date.now();
    const manifest = await backupCluster({
      nc: ncSrc, dir, controlSnapshot: async () => controlSrc.snapshot(), kvBuckets: [deviceStateBucket, registryBucket], streams: [STREAM], history,
    });
    const backupMs = Date.now() - t0;
    expect(manifest.files.map((f) => [f.kind, f.source])).toEqual([
      ["control", "control"], ["kv", deviceStateBucket], ["kv", registryBucket], ["stream", STREAM],
    ]);

    const t1 = Date.now();
    const report = await restoreCluster({
      nc: ncDst, dir, replicas: 1, history,
      restoreControl: async (bytes) => controlDst.restore(bytes),
    });
    const restoreMs = Date.now() - t1;
    expect(report.ok).toBe(true);
    expect(report.files.every((f) => f.digestMatches)).toBe(true);
    expect(history.list({ kind: "restore" }).map((e) => e.action)).toEqual(["backup-written", "restored"]);

    // Independent equality checks, not only the report's.
    expect(Buffer.from(controlDst.snapshot()).equals(Buffer.from(controlSrc.snapshot()))).toBe(true);
    for (const bucket of [deviceStateBucket, registryBucket]) expect(await digestKv(ncDst, bucket)).toEqual(await digestKv(ncSrc, bucket));
    const restoredState = await ensureDeviceStateBucket(ncDst);
    expect(await restoredState.get("dev-7").then((e) => e?.operation)).toBe("DEL");
    const [srcInfo, dstInfo] = await Promise.all([(await jetstreamManager(ncSrc)).streams.info(STREAM), (await jetstreamManager(ncDst)).streams.info(STREAM)]);
    expect(dstInfo.state.messages).toBe(srcInfo.state.messages);
    // The restored control plane serves leases with the fencing counter carried over.
    const lease = await new ControlPlaneLock({ propose: localProposer(controlDst), ownerId: "node-2" }).acquire("role/scheduler", { ttlMs: 1000, timeoutMs: 0 });
    expect(lease).toMatchObject({ ok: false, error: "timeout", holder: "node-1" });

    // Stream files are stored compressed (zstd by default) and restored through the header of the manifest.
    const streamFiles = manifest.files.filter((f) => f.kind !== "control");
    expect(streamFiles.length).toBeGreaterThan(0);
    for (const f of streamFiles) {
      expect(f.encoding).toBe("zstd");
      expect(f.bytes).toBeLessThan(f.rawBytes!);
    }
    const bytes = manifest.files.reduce((s, f) => s + f.bytes, 0);
    console.log(`[recovery] backup of ${manifest.files.map((f) => `${f.source}:${f.entries}`).join(", ")} (${bytes} bytes) in ${backupMs} ms; ` +
      `restore into a fresh nats-server + verification in ${restoreMs} ms`);
  }, 90_000);

  it("refuses a corrupt or incomplete backup before writing anything, and never overwrites a backup", async () => {
    const good = path.join(root, "b1");
    const bad = path.join(root, "b-corrupt");
    cpSync(good, bad, { recursive: true });
    const file = path.join(bad, `stream.${STREAM}.jsonl`);
    const content = readFileSync(file);
    content[content.length - 5] ^= 0x01;
    writeFileSync(file, content);
    await expect(readBackup(bad)).rejects.toThrow(/SHA-256/);
    await expect(restoreCluster({ nc: ncDst, dir: bad })).rejects.toThrow(/SHA-256/);
    rmSync(path.join(bad, "control.snapshot"));
    await expect(readBackup(bad)).rejects.toThrow(/missing/);
    await expect(backupCluster({ nc: ncSrc, dir: good, kvBuckets: [] })).rejects.toThrow(/already exists/);

    // A zip bomb in place of a stream file, with a consistent checksum: refused at the manifest's rawBytes.
    const bomb = path.join(root, "b-bomb");
    cpSync(good, bomb, { recursive: true });
    const m = JSON.parse(readFileSync(path.join(bomb, "manifest.json"), "utf8")) as BackupManifest;
    const target = m.files.find((f) => f.name === `stream.${STREAM}.jsonl`)!;
    const packed = codecs.zstd.compress(new Uint8Array(64 * 1024 * 1024));
    writeFileSync(path.join(bomb, target.name), packed);
    const forged = { ...target, bytes: packed.byteLength, sha256: createHash("sha256").update(packed).digest("hex"), encoding: "zstd" as const, rawBytes: 4096 };
    writeFileSync(path.join(bomb, "manifest.json"), JSON.stringify({ ...m, files: m.files.map((f) => (f === target ? forged : f)) }));
    await expect(readBackup(bomb)).rejects.toThrow(/exceeds the cap of 4096 bytes/);
  });
});
