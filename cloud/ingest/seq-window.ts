// Dedup of device messages by sequence number: a high-watermark plus a ring
// bitmap of the last `size` seqs below it. Pure, no I/O; stored with the
// device state so one KV compare-and-set covers "effect applied" and
// "seq recorded" together.
//
// Invariants: hwm >= 0; bits.length * 8 === size; bit (s mod size) is set iff
// s in (hwm - size, hwm] was recorded. Seq 0 is never recorded (hwm 0 means
// "nothing seen").

export const SeqVerdict = {
  /** Not seen: apply it, then `record`. */
  New: 0,
  /** Seen before: skip the effect, ack the message. */
  Duplicate: 1,
  /** At or below hwm - size: unknown whether seen (dead-lettered). */
  Stale: 2,
} as const;
export type SeqVerdict = (typeof SeqVerdict)[keyof typeof SeqVerdict];

export interface SeqWindowData {
  hwm: number;
  /** Ring bitmap, size / 8 bytes. */
  bits: Uint8Array;
}

export function emptyWindow(size: number): SeqWindowData {
  if (!Number.isInteger(size) || size < 8 || size % 8 !== 0) throw new Error(`seq window size must be a positive multiple of 8, got ${size}`);
  return { hwm: 0, bits: new Uint8Array(size / 8) };
}

function sizeOf(w: SeqWindowData): number {
  return w.bits.length * 8;
}

function getBit(w: SeqWindowData, seq: number): boolean {
  const i = seq % sizeOf(w);
  return (w.bits[i >>> 3]! & (1 << (i & 7))) !== 0;
}

function setBit(w: SeqWindowData, seq: number, on: boolean): void {
  const i = seq % sizeOf(w);
  if (on) w.bits[i >>> 3]! |= 1 << (i & 7);
  else w.bits[i >>> 3]! &= ~(1 << (i & 7));
}

export function checkSeq(w: SeqWindowData, seq: number): SeqVerdict {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`device seq must be a positive safe integer, got ${seq}`);
  if (seq > w.hwm) return SeqVerdict.New;
  if (seq <= w.hwm - sizeOf(w)) return SeqVerdict.Stale;
  return getBit(w, seq) ? SeqVerdict.Duplicate : SeqVerdict.New;
}

/** Records `seq` (which `checkSeq` called New). Mutates `w`. */
export function recordSeq(w: SeqWindowData, seq: number): void {
  const verdict = checkSeq(w, seq);
  if (verdict !== SeqVerdict.New) throw new Error(`recordSeq(${seq}) on a seq that is not new (hwm ${w.hwm})`);
  if (seq > w.hwm) {
    // Clear the ring slots of the seqs skipped between the old hwm and seq:
    // they now stand for seqs in the window that were not seen.
    const size = sizeOf(w);
    const gap = seq - w.hwm;
    if (gap >= size) w.bits.fill(0);
    else for (let s = w.hwm + 1; s < seq; s++) setBit(w, s, false);
    w.hwm = seq;
  }
  setBit(w, seq, true);
}

/** Resizes a window (config change): keeps what fits, the rest becomes stale. */
export function resizeWindow(w: SeqWindowData, size: number): SeqWindowData {
  if (sizeOf(w) === size) return w;
  const out = emptyWindow(size);
  out.hwm = w.hwm;
  const keep = Math.min(size, sizeOf(w));
  for (let s = w.hwm; s > w.hwm - keep && s > 0; s--) if (getBit(w, s)) setBit(out, s, true);
  return out;
}
