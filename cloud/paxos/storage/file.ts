// The acceptor's disk store: a log of CRC-framed Slot records with group
// commit, compacted into a snapshot file that replaces the old one
// atomically.
//
//   dir/paxos-<seq>.log   Slot records appended by put(), made durable by sync()
//   dir/paxos.snap        every key's slot; covers the logs up to <coversLog>
//
// sync(): the pending records are written with one writev and one
// fdatasync; concurrent calls share it (group commit). When the log grows
// past logBytesMax the store writes a snapshot (temporary file, fsync,
// rename, fsync dir), starts the next log and deletes the covered ones.
//
// Open: snapshot (any defect is corruption: it only appears by rename after
// fsync), then the logs after it in order. A torn tail of the last log (a
// crash mid-append; see slot-codec.ts) is truncated with a warning; a bad
// record anywhere else makes open() fail with StoreError("corrupt"). A failed
// fsync leaves the page cache in an unknown state: the store refuses every
// later write (never retried), and the acceptor must exit.

import * as fs from "node:fs";
import * as path from "node:path";
import { fdatasync, fsyncDir, removeTempFiles, writeFileAtomic, writevAll } from "../../raft/storage";
import type { Slot } from "../types";
import { encodeSlotRecord, encodeSnapshot, readSnapshot, replayLog } from "./slot-codec";
import { StoreError, type AcceptorStore } from "./types";

export interface FileStoreOptions {
  /** Compact into a snapshot once the active log reaches this size. */
  readonly logBytesMax?: number;
  readonly warn?: (msg: string) => void;
}

export const FILE_STORE_DEFAULTS = { logBytesMax: 64 << 20 } as const;

const LOG_RE = /^paxos-([0-9a-f]{16})\.log$/;
const SNAPSHOT = "paxos.snap";
const hex16 = (n: number): string => n.toString(16).padStart(16, "0");

export class FileAcceptorStore implements AcceptorStore {
  readonly dir: string;
  readonly logBytesMax: number;
  readonly #loaded: ReadonlyMap<string, Slot>;
  /** Latest slot per key (durable or pending): what a snapshot writes. */
  readonly #slots: Map<string, Slot>;
  #seq: number;
  #fd: number;
  #logBytes: number;
  #pending: Uint8Array[] = [];
  #inflight: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  #failed: StoreError | undefined;
  #closed = false;
  fsyncs = 0;
  snapshots = 0;
  /** Bytes of torn tail truncated at open. */
  readonly truncatedBytes: number;

  private constructor(dir: string, opts: FileStoreOptions, slots: Map<string, Slot>, seq: number, fd: number, size: number, truncated: number) {
    this.dir = dir;
    this.logBytesMax = opts.logBytesMax ?? FILE_STORE_DEFAULTS.logBytesMax;
    this.#loaded = new Map(slots);
    this.#slots = slots;
    this.#seq = seq;
    this.#fd = fd;
    this.#logBytes = size;
    this.truncatedBytes = truncated;
  }

  static open(dir: string, opts: FileStoreOptions = {}): FileAcceptorStore {
    const warn = opts.warn ?? ((m: string) => console.warn(m));
    if (opts.logBytesMax !== undefined && !(Number.isSafeInteger(opts.logBytesMax) && opts.logBytesMax >= 1024)) {
      throw new StoreError("invalid", `logBytesMax must be an integer >= 1024, got ${opts.logBytesMax}`);
    }
    fs.mkdirSync(dir, { recursive: true });
    removeTempFiles(dir);
    let slots = new Map<string, Slot>();
    let coversLog = 0;
    const snapFile = path.join(dir, SNAPSHOT);
    if (fs.existsSync(snapFile)) {
      const snap = readSnapshot(new Uint8Array(fs.readFileSync(snapFile)), snapFile);
      slots = snap.slots;
      coversLog = snap.coversLog;
    }
    const logs = listLogs(dir);
    for (const l of logs.filter((l) => l.seq <= coversLog)) fs.rmSync(l.file); // compaction finished before deleting them
    const live = logs.filter((l) => l.seq > coversLog);
    let truncated = 0;
    for (let i = 0; i < live.length; i++) {
      const l = live[i]!;
      if (l.seq !== coversLog + 1 + i) throw new StoreError("corrupt", `log ${coversLog + 1 + i} missing in ${dir}`);
      const buf = new Uint8Array(fs.readFileSync(l.file));
      const r = replayLog(buf, slots, l.file);
      if (r.torn === undefined) continue;
      if (i !== live.length - 1) throw new StoreError("corrupt", `${l.file}: ${r.torn} (not the last log)`);
      truncated = buf.byteLength - r.validBytes;
      warn(`paxos store: truncating torn tail of ${l.file} at offset ${r.validBytes} (${truncated} bytes): ${r.torn}`);
      fs.truncateSync(l.file, r.validBytes);
    }
    const seq = live.length > 0 ? live[live.length - 1]!.seq : coversLog + 1;
    const file = path.join(dir, `paxos-${hex16(seq)}.log`);
    const fd = fs.openSync(file, "a");
    const size = fs.fstatSync(fd).size;
    fs.fdatasyncSync(fd);
    fsyncDir(dir);
    return new FileAcceptorStore(dir, opts, slots, seq, fd, size, truncated);
  }

  loaded(): ReadonlyMap<string, Slot> {
    return this.#loaded;
  }

  put(key: string, slot: Slot): void {
    if (this.#closed) throw new StoreError("closed", `store ${this.dir} is closed`);
    if (this.#failed) throw this.#failed;
    this.#pending.push(encodeSlotRecord(key, slot));
    this.#slots.set(key, slot);
  }

  sync(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#queued) return this.#queued;
    const p = this.#inflight.then(() => {
      this.#queued = undefined;
      return this.#flush();
    });
    this.#queued = p;
    this.#inflight = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#failed) await this.sync().catch(() => undefined);
    this.#closed = true;
    fs.closeSync(this.#fd);
  }

  get logSeq(): number {
    return this.#seq;
  }

  async #flush(): Promise<void> {
    const bufs = this.#pending;
    this.#pending = [];
    if (bufs.length === 0) return;
    try {
      await writevAll(this.#fd, bufs);
      await fdatasync(this.#fd);
      this.fsyncs++;
      for (const b of bufs) this.#logBytes += b.byteLength;
      if (this.#logBytes >= this.logBytesMax) this.#compact();
    } catch (err) {
      this.#failed = new StoreError("failed", `write failed, store unusable: ${(err as Error).message}`);
      throw this.#failed;
    }
  }

  /** Snapshot of every slot (durable, or pending and about to be), then a fresh log. */
  #compact(): void {
    writeFileAtomic(this.dir, SNAPSHOT, encodeSnapshot(this.#seq, this.#slots));
    this.snapshots++;
    fs.closeSync(this.#fd);
    const old = this.#seq;
    this.#seq++;
    this.#fd = fs.openSync(path.join(this.dir, `paxos-${hex16(this.#seq)}.log`), "a");
    fsyncDir(this.dir);
    this.#logBytes = 0;
    for (const l of listLogs(this.dir)) if (l.seq <= old) fs.rmSync(l.file);
  }
}

function listLogs(dir: string): { seq: number; file: string }[] {
  const out: { seq: number; file: string }[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const m = LOG_RE.exec(f);
    if (m) out.push({ seq: parseInt(m[1]!, 16), file: path.join(dir, f) });
  }
  return out;
}
