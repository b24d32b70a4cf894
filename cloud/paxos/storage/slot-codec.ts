// Records of the acceptor store, in the CRC32 framing shared with the Raft
// WAL (cloud/raft/storage records.ts), and their replay.
//
//   log file:       Slot records, appended; the last one per key wins
//   snapshot file:  SnapshotHead(coversLog) · Slot × count · SnapshotEnd(count)
//
//   Slot payload:   key str16 | promise ballot | accepted ballot | state  (field codec of ../codec.ts)
//
// Replay of a log: a bad record (CRC or length check fails) with no valid
// record anywhere after it is a torn write — a crash during an append that
// was never synced, so no reply depended on it; the bytes after it may be a
// partial batch, zeros or garbage. Replay stops there and reports the
// offset, and the caller truncates. A bad record followed by a valid one is
// corruption of synced data: StoreError, and the acceptor does not start
// (an acceptor that forgot a promise must not vote).

import { decodeFrame, encodeFrame } from "../../raft/storage";
import { ByteReader, ByteWriter, CodecError } from "../codec";
import { PAXOS_LIMITS, ballotLess } from "../types";
import type { Slot } from "../types";
import { StoreError } from "./types";

export const StoreRecord = {
  Slot: 1,
  SnapshotHead: 2,
  SnapshotEnd: 3,
} as const;
export type StoreRecord = (typeof StoreRecord)[keyof typeof StoreRecord];

const known = (t: number): boolean => t >= StoreRecord.Slot && t <= StoreRecord.SnapshotEnd;

export function encodeSlotRecord(key: string, slot: Slot): Uint8Array {
  const w = new ByteWriter(64 + (slot.state.data?.byteLength ?? 0));
  w.str16(key, PAXOS_LIMITS.keyBytesMax, "key");
  w.ballot(slot.promise);
  w.ballot(slot.accepted);
  w.state(slot.state);
  return encodeFrame(StoreRecord.Slot, w.done());
}

export function decodeSlotPayload(payload: Uint8Array): { key: string; slot: Slot } {
  const r = new ByteReader(payload);
  const key = r.str16(PAXOS_LIMITS.keyBytesMax, "key");
  const promise = r.ballot("promise");
  const accepted = r.ballot("accepted");
  const state = r.state();
  r.end("slot record");
  if (ballotLess(promise, accepted)) throw new CodecError(`slot ${key}: accepted ballot above promise`);
  return { key, slot: { promise, accepted, state } };
}

export function encodeCountRecord(type: typeof StoreRecord.SnapshotHead | typeof StoreRecord.SnapshotEnd, n: number): Uint8Array {
  const w = new ByteWriter(8);
  w.f64(n);
  return encodeFrame(type, w.done());
}

function decodeCount(payload: Uint8Array, what: string): number {
  const r = new ByteReader(payload);
  const n = r.uint(what);
  r.end(what);
  return n;
}

export interface LogReplay {
  /** Bytes of whole, valid records. */
  readonly validBytes: number;
  /** Why replay stopped before the end (a torn tail), if it did. */
  readonly torn?: string;
}

/** Replays Slot records of a log into `slots`. */
export function replayLog(buf: Uint8Array, slots: Map<string, Slot>, name: string): LogReplay {
  let at = 0;
  while (at < buf.byteLength) {
    const rec = decodeFrame(buf, at, known);
    if (rec.kind !== "ok") {
      const good = nextValidRecord(buf, at + 1);
      if (good < 0) return { validBytes: at, torn: rec.reason };
      throw new StoreError("corrupt", `${name}: ${rec.reason}, followed by a valid record at ${good}`);
    }
    if (rec.type !== StoreRecord.Slot) throw new StoreError("corrupt", `${name}: record type ${rec.type} at ${at} in a log`);
    const { key, slot } = decodeOrCorrupt(rec.payload, name, at);
    slots.set(key, slot);
    at = rec.end;
  }
  return { validBytes: at };
}

/** Offset of the first whole, CRC-valid Slot record at or after `from`, or -1. */
function nextValidRecord(buf: Uint8Array, from: number): number {
  for (let at = from; at < buf.byteLength; at++) {
    const rec = decodeFrame(buf, at, known);
    if (rec.kind === "ok" && rec.type === StoreRecord.Slot) return at;
  }
  return -1;
}

/** Reads a snapshot file; it appears only by atomic rename, so any defect is corruption. */
export function readSnapshot(buf: Uint8Array, name: string): { coversLog: number; slots: Map<string, Slot> } {
  const slots = new Map<string, Slot>();
  let at = 0;
  let coversLog = -1;
  for (;;) {
    const rec = decodeFrame(buf, at, known);
    if (rec.kind !== "ok") throw new StoreError("corrupt", `${name}: ${rec.reason}`);
    at = rec.end;
    if (coversLog < 0) {
      if (rec.type !== StoreRecord.SnapshotHead) throw new StoreError("corrupt", `${name}: does not start with a snapshot head`);
      coversLog = decodeCount(rec.payload, "snapshot head");
      continue;
    }
    if (rec.type === StoreRecord.SnapshotEnd) {
      const n = decodeCount(rec.payload, "snapshot end");
      if (n !== slots.size) throw new StoreError("corrupt", `${name}: ${slots.size} slots but the end record says ${n}`);
      if (at !== buf.byteLength) throw new StoreError("corrupt", `${name}: bytes after the end record`);
      return { coversLog, slots };
    }
    if (rec.type !== StoreRecord.Slot) throw new StoreError("corrupt", `${name}: unexpected record type ${rec.type}`);
    const { key, slot } = decodeOrCorrupt(rec.payload, name, at);
    slots.set(key, slot);
  }
}

export function encodeSnapshot(coversLog: number, slots: ReadonlyMap<string, Slot>): Uint8Array[] {
  const out = [encodeCountRecord(StoreRecord.SnapshotHead, coversLog)];
  for (const [key, slot] of slots) out.push(encodeSlotRecord(key, slot));
  out.push(encodeCountRecord(StoreRecord.SnapshotEnd, slots.size));
  return out;
}

function decodeOrCorrupt(payload: Uint8Array, name: string, at: number): { key: string; slot: Slot } {
  try {
    return decodeSlotPayload(payload);
  } catch (err) {
    if (err instanceof CodecError) throw new StoreError("corrupt", `${name}: bad slot record at ${at}: ${err.message}`);
    throw err;
  }
}
