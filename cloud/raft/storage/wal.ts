// Disk storage: a write-ahead log of CRC32-checked records in segment files,
// plus snapshot files written atomically (write, fsync, rename, fsync dir).
//
//   dir/wal-<seq>.log     records: entries batches, hard states, snapshot markers
//   dir/snap-<index>.snap the state machine at <index>, with membership
//
// Writes are buffered in memory and made durable by sync(): every sync()
// called in one event-loop turn shares one writev + fdatasync (group commit),
// run at the end of that turn (a microtask) on the calling thread. Not on
// libuv's thread pool: each pool job costs two thread wake-ups (worker, then
// the loop), and with a busy CPU those wake-ups, not the disk, were most of
// a Raft write's latency (docs/performance.md, "Raft: where a write's time
// goes"). The thread blocks for one fdatasync instead. The whole uncompacted
// log is also kept in memory (LogState) for the Raft core's reads.
//
// Recovery: the newest snapshot, then every record in order. A torn or
// corrupt record at the very end of the last segment is a crash mid-write:
// it is truncated with a warning. Anything bad before that is corruption and
// open() fails with a StorageError naming the file and offset.

import * as fs from "node:fs";
import * as path from "node:path";
import type { ConfState, Entry, HardState, Snapshot } from "../types";
import { hardStateEqual } from "../types";
import {
  RecordType,
  decodeEntries,
  decodeHardState,
  decodeMarker,
  decodeRecord,
  decodeSnapshotFile,
  encodeEntries,
  encodeHardState,
  encodeMarker,
  encodeRecord,
  encodeSnapshotFile,
} from "./codec";
import { LogState } from "./log-state";
import { fsyncDir, removeTempFiles, writeFileAtomic, writevAllSync } from "./records";
import { StorageError } from "./types";
import type { RaftStorage } from "./types";

export interface WalOptions {
  /** Start a new segment once the current one reaches this size. */
  readonly segmentBytesMax?: number;
  /** Snapshot files kept (older ones are deleted). */
  readonly snapshotsKeptMax?: number;
  /** Initial membership when the directory is empty. */
  readonly confState?: ConfState;
  readonly warn?: (msg: string) => void;
}

interface Segment {
  readonly seq: number;
  readonly file: string;
  /** Highest entry index written to it; 0 if none. */
  maxIndex: number;
}

const SEGMENT_RE = /^wal-([0-9a-f]{16})\.log$/;
const SNAP_RE = /^snap-([0-9a-f]{16})\.snap$/;
const hex16 = (n: number): string => n.toString(16).padStart(16, "0");

export class WalStorage implements RaftStorage {
  readonly dir: string;
  readonly segmentBytesMax: number;
  readonly snapshotsKeptMax: number;
  #state: LogState;
  #segments: Segment[];
  #fd: number;
  #segmentBytes: number;
  #pending: Uint8Array[] = [];
  #pendingMaxIndex = 0;
  #pendingHardState: HardState | undefined;
  #durableHardState: HardState;
  /** The flush every sync() of this turn waits for. */
  #queued: Promise<void> | undefined;
  #failed: Error | undefined;
  #closed = false;
  /** fsync calls made, for tests of group commit. */
  fsyncCount = 0;
  /** Called with each fsync's duration in seconds (metrics); never throws into the WAL. */
  onFsync: ((seconds: number) => void) | undefined = undefined;

  private constructor(dir: string, opts: WalOptions, state: LogState, segments: Segment[], fd: number, size: number) {
    this.dir = dir;
    this.segmentBytesMax = opts.segmentBytesMax ?? 64 << 20;
    this.snapshotsKeptMax = opts.snapshotsKeptMax ?? 2;
    this.#state = state;
    this.#segments = segments;
    this.#fd = fd;
    this.#segmentBytes = size;
    this.#durableHardState = state.hardState;
  }

  static async open(dir: string, opts: WalOptions = {}): Promise<WalStorage> {
    fs.mkdirSync(dir, { recursive: true });
    const warn = opts.warn ?? ((m: string) => console.warn(m));
    removeTempFiles(dir);
    const snap = loadLatestSnapshot(dir);
    const state = snap ? new LogState() : opts.confState ? LogState.withConfState(opts.confState) : new LogState();
    if (snap) {
      state.applySnapshot(snap);
    }
    const segments = listSegments(dir);
    for (let i = 0; i < segments.length; i++) {
      replaySegment(state, segments[i]!, i === segments.length - 1, warn);
    }
    if (snap) finishWithSnapshot(state, snap);
    if (state.hardState.commit > state.lastIndex()) {
      throw new StorageError("corrupt", `hard state commit ${state.hardState.commit} beyond last index ${state.lastIndex()} in ${dir}`);
    }
    if (segments.length === 0) segments.push({ seq: 1, file: path.join(dir, `wal-${hex16(1)}.log`), maxIndex: 0 });
    const active = segments[segments.length - 1]!;
    const fd = fs.openSync(active.file, "a");
    const size = fs.fstatSync(fd).size;
    fsyncDir(dir);
    return new WalStorage(dir, opts, state, segments, fd, size);
  }

  // ------------------------------------------------------------ reads

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.#state.hardState, confState: this.#state.snapshot.metadata.confState };
  }
  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    return this.#state.slice(lo, hi, bytesMax);
  }
  term(i: number): number | undefined {
    return this.#state.term(i);
  }
  firstIndex(): number {
    return this.#state.firstIndex();
  }
  lastIndex(): number {
    return this.#state.lastIndex();
  }
  snapshot(): Snapshot {
    return this.#state.snapshot;
  }

  // ------------------------------------------------------------ writes

  append(entries: readonly Entry[]): void {
    this.#checkWritable();
    if (entries.length === 0) return;
    this.#state.append(entries);
    this.#pending.push(encodeRecord(RecordType.Entries, encodeEntries(entries)));
    this.#pendingMaxIndex = Math.max(this.#pendingMaxIndex, entries[entries.length - 1]!.index);
  }

  setHardState(hs: HardState): void {
    this.#checkWritable();
    if (hardStateEqual(hs, this.#state.hardState)) return;
    this.#state.hardState = hs;
    this.#pending.push(encodeRecord(RecordType.HardState, encodeHardState(hs)));
    this.#pendingHardState = hs;
  }

  applySnapshot(snap: Snapshot): void {
    this.#checkWritable();
    writeSnapshotFile(this.dir, snap);
    this.#state.applySnapshot(snap);
    this.#pending.push(encodeRecord(RecordType.SnapshotMarker, encodeMarker(snap.metadata.index, snap.metadata.term)));
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    this.#checkWritable();
    if (index <= this.#state.snapshot.metadata.index) {
      throw new StorageError("invalid", `snapshot ${index} not newer than ${this.#state.snapshot.metadata.index}`);
    }
    const term = this.#state.term(index);
    if (term === undefined) throw new StorageError("unavailable", `snapshot index ${index} not in log`);
    const snap: Snapshot = { metadata: { index, term, confState }, data };
    writeSnapshotFile(this.dir, snap);
    this.#state.createSnapshot(index, confState, data);
    this.#releaseOldFiles(index);
    return snap;
  }

  sync(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    // Join this turn's group commit. A microtask, not at once: callers that
    // publish before syncing (the Raft driver's parallel leader append) have
    // their socket flush queued as an earlier microtask, so it goes out first.
    this.#queued ??= Promise.resolve().then(() => {
      this.#queued = undefined;
      this.#flush();
    });
    return this.#queued;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#failed) await this.sync().catch(() => undefined);
    this.#closed = true;
    fs.closeSync(this.#fd);
  }

  #flush(): void {
    const bufs = this.#pending;
    const maxIndex = this.#pendingMaxIndex;
    const hs = this.#pendingHardState;
    this.#pending = [];
    this.#pendingMaxIndex = 0;
    this.#pendingHardState = undefined;
    if (bufs.length === 0) return;
    try {
      let bytes = 0;
      for (const b of bufs) bytes += b.byteLength;
      writevAllSync(this.#fd, bufs);
      const t0 = process.hrtime.bigint();
      fs.fdatasyncSync(this.#fd);
      this.fsyncCount++;
      this.onFsync?.(Number(process.hrtime.bigint() - t0) / 1e9);
      this.#segmentBytes += bytes;
      const seg = this.#segments[this.#segments.length - 1]!;
      seg.maxIndex = Math.max(seg.maxIndex, maxIndex);
      if (hs) this.#durableHardState = hs;
      if (this.#segmentBytes >= this.segmentBytesMax) this.#rotate();
    } catch (err) {
      // After a failed fsync the page cache state is unknown: never retry (fsyncgate).
      this.#failed = new StorageError("corrupt", `wal write failed, storage unusable: ${(err as Error).message}`);
      throw this.#failed;
    }
  }

  #rotate(): void {
    fs.closeSync(this.#fd);
    const seq = this.#segments[this.#segments.length - 1]!.seq + 1;
    const file = path.join(this.dir, `wal-${hex16(seq)}.log`);
    this.#fd = fs.openSync(file, "a");
    // Every segment starts with the durable hard state, so old segments can be deleted.
    const rec = encodeRecord(RecordType.HardState, encodeHardState(this.#durableHardState));
    fs.writeSync(this.#fd, rec);
    fs.fdatasyncSync(this.#fd);
    fsyncDir(this.dir);
    this.#segments.push({ seq, file, maxIndex: 0 });
    this.#segmentBytes = rec.byteLength;
  }

  /** Deletes segments wholly covered by the snapshot at `index` and old snapshot files. */
  #releaseOldFiles(index: number): void {
    while (this.#segments.length > 1 && this.#segments[0]!.maxIndex <= index) {
      fs.rmSync(this.#segments.shift()!.file);
    }
    const snaps = fs.readdirSync(this.dir).filter((f) => SNAP_RE.test(f)).sort();
    for (const f of snaps.slice(0, Math.max(0, snaps.length - this.snapshotsKeptMax))) fs.rmSync(path.join(this.dir, f));
    fsyncDir(this.dir);
  }

  #checkWritable(): void {
    if (this.#closed) throw new StorageError("closed", `wal ${this.dir} is closed`);
    if (this.#failed) throw this.#failed;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }
}

function listSegments(dir: string): Segment[] {
  const segs: Segment[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const m = SEGMENT_RE.exec(f);
    if (m) segs.push({ seq: parseInt(m[1]!, 16), file: path.join(dir, f), maxIndex: 0 });
  }
  for (let i = 1; i < segs.length; i++) {
    if (segs[i]!.seq !== segs[i - 1]!.seq + 1) {
      throw new StorageError("corrupt", `wal segment ${segs[i - 1]!.seq + 1} missing in ${dir}`);
    }
  }
  return segs;
}

function replaySegment(state: LogState, seg: Segment, isLast: boolean, warn: (msg: string) => void): void {
  const buf = new Uint8Array(fs.readFileSync(seg.file));
  let at = 0;
  while (at < buf.byteLength) {
    const rec = decodeRecord(buf, at);
    if (rec.kind !== "ok") {
      if (!isLast || rec.kind === "corrupt") {
        throw new StorageError("corrupt", `${seg.file}: ${rec.reason}${isLast ? "" : " (not the last segment)"}`);
      }
      warn(`raft wal: truncating torn tail of ${seg.file} at offset ${at} (${buf.byteLength - at} bytes): ${rec.reason}`);
      fs.truncateSync(seg.file, at);
      return;
    }
    applyRecord(state, seg, rec.type, rec.payload);
    at = rec.end;
  }
}

function applyRecord(state: LogState, seg: Segment, type: RecordType, payload: Uint8Array): void {
  switch (type) {
    case RecordType.Entries: {
      const ents = decodeEntries(payload);
      if (ents.length === 0) return;
      seg.maxIndex = Math.max(seg.maxIndex, ents[ents.length - 1]!.index);
      if (ents[0]!.index > state.lastIndex() + 1) {
        throw new StorageError("corrupt", `${seg.file}: entries from ${ents[0]!.index} leave a gap after ${state.lastIndex()}`);
      }
      state.append(ents);
      return;
    }
    case RecordType.HardState:
      state.hardState = decodeHardState(payload);
      return;
    case RecordType.SnapshotMarker: {
      const { index, term } = decodeMarker(payload);
      // The log restarts after the snapshot; its data is in the snapshot file.
      state.entries = [{ index, term, type: 0, data: new Uint8Array(0) }];
      return;
    }
  }
}

function finishWithSnapshot(state: LogState, snap: Snapshot): void {
  const idx = snap.metadata.index;
  if (state.lastIndex() < idx || state.term(idx) !== snap.metadata.term) {
    state.entries = [{ index: idx, term: snap.metadata.term, type: 0, data: new Uint8Array(0) }];
  } else {
    state.compact(idx);
  }
  state.snapshot = snap;
}

function loadLatestSnapshot(dir: string): Snapshot | undefined {
  const snaps = fs.readdirSync(dir).filter((f) => SNAP_RE.test(f)).sort();
  const latest = snaps[snaps.length - 1];
  if (!latest) return undefined;
  // A snapshot file only appears by rename after fsync, so a bad one is real corruption.
  return decodeSnapshotFile(new Uint8Array(fs.readFileSync(path.join(dir, latest))), latest);
}

function writeSnapshotFile(dir: string, snap: Snapshot): void {
  writeFileAtomic(dir, `snap-${hex16(snap.metadata.index)}.snap`, encodeSnapshotFile(snap));
}
