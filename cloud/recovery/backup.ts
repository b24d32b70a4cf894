// Data restore: back up the control plane (snapshot bytes of the control
// state machine) and JetStream data (KV buckets — device state, registry,
// commands — and plain streams, each as the messages of its stream, headers
// included, so KV delete markers and history survive) to a directory, and
// restore it into a fresh NATS cluster.
//
// Layout of one backup (a directory written as <dir>.partial and renamed
// when complete, so a crash never leaves a half backup under the real name):
//   manifest.json                     {v, createdAtMs, files: [{name, kind, source, bytes, sha256, entries, digest}]}
//   control.snapshot                  canonical JSON bytes of ControlStateMachine.snapshot()
//   stream.<name>.jsonl               line 1: stream config; then one message per line
//                                     (compressed when the manifest entry has `encoding`:
//                                     zstd by default, cloud/compression; `rawBytes` caps
//                                     its decompression)
// Each file is written to a temp name, fsynced, renamed. Restore checks every
// file's size and SHA-256 against the manifest before touching the target.
// `digest` is a content digest (KV: latest value per key; stream: subject+data
// sequence) computed from the live source at backup time; restore recomputes
// it on the target, so "restored equals original" is checked, not assumed.

import { createHash } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { codecOf, defaultCompression, encodePayload, type CodecName, type CompressionPolicy } from "../compression";
import type { RecoveryHistory } from "../membership";
import { HistoryKind } from "../membership";

export const BACKUP_FORMAT_VERSION = 1;
export const BACKUP_MESSAGES_MAX_DEFAULT = 1_000_000;
export const BACKUP_FILE_BYTES_MAX = 4 * 1024 * 1024 * 1024;

export interface BackupFile {
  readonly name: string;
  readonly kind: "control" | "kv" | "stream";
  /** Bucket or stream name ("control" for the snapshot). */
  readonly source: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly entries: number;
  /** Content digest of the source at backup time (see digestKv / digestStream). */
  readonly digest: string;
  /** Codec of the file (absent: raw); `bytes` and `sha256` are of the stored (compressed) file. */
  readonly encoding?: CodecName;
  /** Size before compression: the cap of its decompression. */
  readonly rawBytes?: number;
}

export interface BackupManifest {
  readonly v: typeof BACKUP_FORMAT_VERSION;
  readonly createdAtMs: number;
  readonly files: readonly BackupFile[];
}

export interface BackupOptions {
  nc: NatsConnection;
  /** Target directory (must not exist). */
  dir: string;
  /** Snapshot bytes of the control state machine (fetchControlSnapshot or sm.snapshot()). */
  controlSnapshot?: () => Promise<Uint8Array>;
  kvBuckets?: readonly string[];
  streams?: readonly string[];
  messagesMax?: number;
  /** Compression of stream files; default zstd (cloud/compression defaultCompression.backup). */
  compression?: CompressionPolicy;
  onProgress?: (p: { source: string; done: number; total: number }) => void;
  /** Called between steps; throwing aborts the backup (the lock keeping it exclusive was lost, or a stop). */
  checkpoint?: () => void;
  /** Records "backup-written" (kind restore) when given. */
  history?: RecoveryHistory;
}

export interface RestoreOptions {
  nc: NatsConnection;
  dir: string;
  /** Loads the control snapshot into the target control plane (restoreControlSnapshot, sm.restore). */
  restoreControl?: (bytes: Uint8Array) => Promise<void>;
  /** Replicas of the restored streams (the target cluster may differ in size). */
  replicas?: number;
  onProgress?: (p: { source: string; done: number; total: number }) => void;
  /** Called between steps; throwing aborts the restore. */
  checkpoint?: () => void;
  /** Files of the backup to leave out (e.g. the control snapshot when the target has no control plane). */
  skip?: (f: BackupFile) => boolean;
  /** Records "restored" / "restore-mismatch" (kind restore) when given. */
  history?: RecoveryHistory;
}

export interface RestoreReport {
  readonly files: readonly { readonly source: string; readonly kind: BackupFile["kind"]; readonly entries: number; readonly digestMatches: boolean; readonly skipped?: true }[];
  readonly ok: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** Writes bytes under `name` in `dir` atomically: temp file, fsync, rename. */
export async function writeFileAtomic(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const tmp = path.join(dir, `.${name}.tmp`);
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path.join(dir, name));
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// ---- digests ------------------------------------------------------------------

/** SHA-256 over the latest value of every live key, keys sorted. */
export async function digestKv(nc: NatsConnection, bucket: string): Promise<{ digest: string; keys: number }> {
  const kv = await new Kvm(nc).open(bucket, { bindOnly: true });
  const keys: string[] = [];
  for await (const k of await kv.keys()) keys.push(k);
  keys.sort();
  const h = createHash("sha256");
  let n = 0;
  for (const k of keys) {
    const e = await kv.get(k);
    if (!e || e.operation !== "PUT") continue;
    h.update(`${k}\u0000${e.value.byteLength}\u0000`).update(e.value);
    n++;
  }
  return { digest: h.digest("hex"), keys: n };
}

/** SHA-256 over (subject, data) of every message in stream order. */
export function digestMessages(msgs: readonly { subject: string; data: Uint8Array }[]): string {
  const h = createHash("sha256");
  for (const m of msgs) h.update(`${m.subject}\u0000${m.data.byteLength}\u0000`).update(m.data);
  return h.digest("hex");
}

// ---- stream dump/load ---------------------------------------------------------

interface DumpedMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string[]> | undefined;
}

async function readStream(nc: NatsConnection, stream: string, messagesMax: number, onProgress?: BackupOptions["onProgress"]): Promise<{ config: StreamConfig; msgs: DumpedMessage[] }> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const total = info.state.messages;
  if (total > messagesMax) throw new Error(`backup: stream ${stream} holds ${total} messages, over messagesMax ${messagesMax}`);
  const msgs: DumpedMessage[] = [];
  if (total > 0) {
    // An ordered consumer reads the stream once, in order, without server-side state to clean up.
    const consumer = await jetstream(nc).consumers.get(stream);
    while (msgs.length < total) {
      const batch = await consumer.fetch({ max_messages: Math.min(1000, total - msgs.length), expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        const headers: Record<string, string[]> = {};
        if (m.headers) for (const [k, v] of m.headers) headers[k] = v;
        msgs.push({ subject: m.subject, data: m.data, headers: m.headers ? headers : undefined });
        if (m.info.pending === 0) break;
      }
      onProgress?.({ source: stream, done: msgs.length, total });
      if (got === 0) break;
    }
  }
  return { config: info.config, msgs };
}

function encodeStreamFile(config: StreamConfig, msgs: readonly DumpedMessage[]): Uint8Array {
  const lines = [JSON.stringify({ config })];
  for (const m of msgs) lines.push(JSON.stringify({ s: m.subject, d: Buffer.from(m.data).toString("base64"), ...(m.headers ? { h: m.headers } : {}) }));
  return enc.encode(lines.join("\n") + "\n");
}

function decodeStreamFile(bytes: Uint8Array, name: string): { config: StreamConfig; msgs: DumpedMessage[] } {
  const lines = dec.decode(bytes).split("\n").filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error(`restore: ${name} is empty`);
  const head = JSON.parse(lines[0]!) as { config?: StreamConfig };
  if (!head.config || typeof head.config.name !== "string") throw new Error(`restore: ${name} has no stream config`);
  const msgs = lines.slice(1).map((l, i) => {
    const o = JSON.parse(l) as { s?: unknown; d?: unknown; h?: Record<string, string[]> };
    if (typeof o.s !== "string" || typeof o.d !== "string") throw new Error(`restore: ${name} line ${i + 2} is not a message`);
    return { subject: o.s, data: new Uint8Array(Buffer.from(o.d, "base64")), headers: o.h };
  });
  return { config: head.config, msgs };
}

// ---- backup -------------------------------------------------------------------------

export async function backupCluster(opts: BackupOptions): Promise<BackupManifest> {
  const partial = `${opts.dir}.partial`;
  if (await exists(opts.dir)) throw new Error(`backup: ${opts.dir} already exists`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    return await writeBackup(opts, partial);
  } catch (e) {
    // A backup that did not complete leaves nothing behind (its files are useless without the manifest).
    await rm(partial, { recursive: true, force: true });
    throw e;
  }
}

async function writeBackup(opts: BackupOptions, partial: string): Promise<BackupManifest> {
  const messagesMax = opts.messagesMax ?? BACKUP_MESSAGES_MAX_DEFAULT;
  const checkpoint = opts.checkpoint ?? (() => undefined);
  const files: BackupFile[] = [];
  const compression = opts.compression ?? defaultCompression.backup;
  const add = async (name: string, kind: BackupFile["kind"], source: string, raw: Uint8Array, entries: number, digest: string): Promise<void> => {
    if (raw.byteLength > BACKUP_FILE_BYTES_MAX) throw new Error(`backup: ${name} is ${raw.byteLength} bytes, over ${BACKUP_FILE_BYTES_MAX}`);
    checkpoint();
    // The control snapshot stays raw: `xsfleet restore` and operators read it as JSON.
    const e = kind === "control" ? { data: raw, encoding: null } : encodePayload(compression, raw);
    await writeFileAtomic(partial, name, e.data);
    files.push({
      name, kind, source, bytes: e.data.byteLength, sha256: sha256(e.data), entries, digest,
      ...(e.encoding !== null ? { encoding: e.encoding, rawBytes: raw.byteLength } : {}),
    });
  };
  if (opts.controlSnapshot) {
    checkpoint();
    const snap = await opts.controlSnapshot();
    await add("control.snapshot", "control", "control", snap, 1, sha256(snap));
  }
  for (const bucket of opts.kvBuckets ?? []) {
    checkpoint();
    // Digest first: a write racing the dump makes the restored digest differ, which verification reports.
    const { digest } = await digestKv(opts.nc, bucket);
    const { config, msgs } = await readStream(opts.nc, kvStream(bucket), messagesMax, opts.onProgress);
    await add(`stream.${kvStream(bucket)}.jsonl`, "kv", bucket, encodeStreamFile(config, msgs), msgs.length, digest);
  }
  for (const stream of opts.streams ?? []) {
    checkpoint();
    const { config, msgs } = await readStream(opts.nc, stream, messagesMax, opts.onProgress);
    await add(`stream.${stream}.jsonl`, "stream", stream, encodeStreamFile(config, msgs), msgs.length, digestMessages(msgs));
  }
  checkpoint();
  const manifest: BackupManifest = { v: BACKUP_FORMAT_VERSION, createdAtMs: Date.now(), files };
  await writeFileAtomic(partial, "manifest.json", enc.encode(JSON.stringify(manifest, null, 1)));
  await fsyncDir(partial);
  await rename(partial, opts.dir);
  await fsyncDir(path.dirname(opts.dir));
  opts.history?.record(HistoryKind.Restore, opts.dir, "backup-written", { files: files.map((f) => ({ source: f.source, entries: f.entries, bytes: f.bytes })) });
  return manifest;
}

// ---- restore ------------------------------------------------------------------------

/** Reads and checks a backup: every file present with its size and checksum. Throws on any mismatch. */
export async function readBackup(dir: string): Promise<{ manifest: BackupManifest; contents: Map<string, Uint8Array> }> {
  const manifest = JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")) as BackupManifest;
  if (manifest.v !== BACKUP_FORMAT_VERSION || !Array.isArray(manifest.files)) throw new Error(`restore: ${dir}/manifest.json: unsupported format`);
  const names = new Set(await readdir(dir));
  const contents = new Map<string, Uint8Array>();
  for (const f of manifest.files) {
    if (!/^[A-Za-z0-9_.-]+$/.test(f.name) || !names.has(f.name)) throw new Error(`restore: ${f.name} listed in the manifest is missing`);
    const bytes = new Uint8Array(await readFile(path.join(dir, f.name)));
    if (bytes.byteLength !== f.bytes) throw new Error(`restore: ${f.name} is ${bytes.byteLength} bytes, manifest says ${f.bytes}`);
    if (sha256(bytes) !== f.sha256) throw new Error(`restore: ${f.name} fails its SHA-256 check (corrupt backup)`);
    if (f.encoding === undefined) contents.set(f.name, bytes);
    else {
      const cap = f.rawBytes ?? -1;
      if (!Number.isInteger(cap) || cap < 0 || cap > BACKUP_FILE_BYTES_MAX) throw new Error(`restore: ${f.name}: rawBytes ${f.rawBytes} is not in 0..${BACKUP_FILE_BYTES_MAX}`);
      try {
        contents.set(f.name, codecOf(f.encoding).decompress(bytes, cap));
      } catch (e) {
        throw new Error(`restore: ${f.name}: ${(e as Error).message}`);
      }
    }
  }
  return { manifest, contents };
}

function restorableConfig(config: StreamConfig, replicas: number | undefined): Partial<StreamConfig> & { name: string } {
  // Server-maintained or cluster-specific fields do not carry over.
  const { sealed: _sealed, placement: _placement, mirror: _mirror, sources: _sources, ...rest } = config as StreamConfig & Record<string, unknown>;
  return { ...rest, ...(replicas !== undefined ? { num_replicas: replicas } : {}) } as Partial<StreamConfig> & { name: string };
}

export async function restoreCluster(opts: RestoreOptions): Promise<RestoreReport> {
  const { manifest, contents } = await readBackup(opts.dir);
  const jsm = await jetstreamManager(opts.nc);
  const js = jetstream(opts.nc);
  const report: RestoreReport["files"][number][] = [];
  const checkpoint = opts.checkpoint ?? (() => undefined);
  for (const f of manifest.files) {
    const bytes = contents.get(f.name)!;
    checkpoint();
    if (opts.skip?.(f)) {
      report.push({ source: f.source, kind: f.kind, entries: f.entries, digestMatches: true, skipped: true });
      continue;
    }
    if (f.kind === "control") {
      if (!opts.restoreControl) throw new Error("restore: the backup holds a control snapshot but no restoreControl was given");
      await opts.restoreControl(bytes);
      report.push({ source: f.source, kind: f.kind, entries: 1, digestMatches: true });
      continue;
    }
    const { config, msgs } = decodeStreamFile(bytes, f.name);
    await jsm.streams.add(restorableConfig(config, opts.replicas));
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const h = natsHeaders();
      for (const [k, vs] of Object.entries(m.headers ?? {})) {
        // Preconditions of the source's writes (KV compare-and-set: expected last sequence) name source sequences; on the target they would refuse the message.
        if (k.toLowerCase().startsWith("nats-expected-")) continue;
        for (const v of vs) h.append(k, v);
      }
      await js.publish(m.subject, m.data, m.headers ? { headers: h } : {});
      if ((i + 1) % 500 === 0 || i + 1 === msgs.length) {
        opts.onProgress?.({ source: f.source, done: i + 1, total: msgs.length });
        checkpoint();
      }
    }
    const digest = f.kind === "kv" ? (await digestKv(opts.nc, f.source)).digest : digestMessages((await readStream(opts.nc, f.source, msgs.length + 1)).msgs);
    report.push({ source: f.source, kind: f.kind, entries: msgs.length, digestMatches: digest === f.digest });
  }
  const ok = report.every((r) => r.digestMatches);
  opts.history?.record(HistoryKind.Restore, opts.dir, ok ? "restored" : "restore-mismatch", { files: report });
  return { files: report, ok };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
