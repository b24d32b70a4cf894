// Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks",
// 2014): timestamps (wallMs, logical) that stay close to physical time, never
// go backwards, and preserve happens-before: receive(m) > m.
//
// Physical time is injected (`physicalMs` arguments), never read here, so the
// clock is a pure state machine testable with any sequence of times, and runs
// the same on XS (where the device may not even have wall time yet) and Node.
//
// Bounds:
//   - `driftMsMax`: a remote timestamp more than this ahead of our physical
//     time is rejected (HlcError DriftExceeded) and the clock is unchanged;
//     otherwise one node with a bad clock would drag every clock forward.
//   - logical < 2^10: if more than 1024 events share one wallMs, the clock
//     advances wallMs by 1 ms instead of failing (it stays monotonic and
//     causal; it runs ahead of physical time only under such bursts).
//   - wallMs < 2^43 (year 2248), so `packHlc` fits one safe integer:
//     wallMs × 2^10 + logical, which orders exactly like `compareHlc`.

export interface HlcTimestamp {
  readonly wallMs: number;
  readonly logical: number;
}

export const hlcLogicalBits = 10;
export const hlcLogicalMax = 2 ** hlcLogicalBits - 1;
export const hlcWallMsMax = 2 ** 43 - 1;

export const HlcErrorCode = Object.freeze({
  /** Remote wallMs is more than driftMsMax ahead of local physical time. */
  DriftExceeded: "drift-exceeded",
  /** A physical time that is not an integer in 0..2^43-1 ms. */
  InvalidTime: "invalid-time",
  /** A timestamp (or packed number) outside the valid ranges. */
  InvalidTimestamp: "invalid-timestamp",
} as const);
export type HlcErrorCode = (typeof HlcErrorCode)[keyof typeof HlcErrorCode];

export class HlcError extends Error {
  override readonly name = "HlcError";
  constructor(
    readonly code: HlcErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface HlcOptions {
  /** Largest accepted lead of a remote wallMs over our physical time. */
  driftMsMax: number;
}

function checkPhysical(physicalMs: number): void {
  if (!Number.isSafeInteger(physicalMs) || physicalMs < 0 || physicalMs > hlcWallMsMax) {
    throw new HlcError(HlcErrorCode.InvalidTime, `physical time must be an integer ms in 0..2^43-1, got ${physicalMs}`);
  }
}

export function isHlcTimestamp(ts: unknown): ts is HlcTimestamp {
  if (typeof ts !== "object" || ts === null) return false;
  const t = ts as { wallMs?: unknown; logical?: unknown };
  return (
    typeof t.wallMs === "number" &&
    typeof t.logical === "number" &&
    Number.isSafeInteger(t.wallMs) &&
    t.wallMs >= 0 &&
    t.wallMs <= hlcWallMsMax &&
    Number.isSafeInteger(t.logical) &&
    t.logical >= 0 &&
    t.logical <= hlcLogicalMax
  );
}

function checkTimestamp(ts: HlcTimestamp, what: string): void {
  if (!isHlcTimestamp(ts)) {
    throw new HlcError(HlcErrorCode.InvalidTimestamp, `${what} must be {wallMs: 0..2^43-1, logical: 0..${hlcLogicalMax}}, got ${JSON.stringify(ts)}`);
  }
}

export class Hlc {
  private wallMs: number;
  private logical: number;
  readonly driftMsMax: number;

  /** `last` restores a persisted timestamp so a restart never goes back. */
  constructor(opts: HlcOptions, last: HlcTimestamp = { wallMs: 0, logical: 0 }) {
    if (!Number.isSafeInteger(opts.driftMsMax) || opts.driftMsMax < 0) {
      throw new HlcError(HlcErrorCode.InvalidTime, `driftMsMax must be a non-negative integer, got ${opts.driftMsMax}`);
    }
    checkTimestamp(last, "initial timestamp");
    this.driftMsMax = opts.driftMsMax;
    this.wallMs = last.wallMs;
    this.logical = last.logical;
  }

  /** The last timestamp issued (or restored). */
  last(): HlcTimestamp {
    return { wallMs: this.wallMs, logical: this.logical };
  }

  /** Timestamp for a local or send event. */
  now(physicalMs: number): HlcTimestamp {
    checkPhysical(physicalMs);
    if (physicalMs > this.wallMs) {
      this.wallMs = physicalMs;
      this.logical = 0;
    } else {
      this.tick(this.logical + 1);
    }
    return this.last();
  }

  /** Timestamp for receiving `remote`; the result is greater than both
   *  `remote` and every timestamp issued before. Throws HlcError
   *  (DriftExceeded, InvalidTimestamp, InvalidTime) leaving the clock as is. */
  receive(remote: HlcTimestamp, physicalMs: number): HlcTimestamp {
    checkPhysical(physicalMs);
    checkTimestamp(remote, "remote timestamp");
    if (remote.wallMs - physicalMs > this.driftMsMax) {
      throw new HlcError(
        HlcErrorCode.DriftExceeded,
        `remote wallMs ${remote.wallMs} is ${remote.wallMs - physicalMs} ms ahead of local ${physicalMs} (driftMsMax ${this.driftMsMax})`,
      );
    }
    const l = Math.max(this.wallMs, remote.wallMs, physicalMs);
    if (l === this.wallMs && l === remote.wallMs) this.tick(Math.max(this.logical, remote.logical) + 1);
    else if (l === this.wallMs) this.tick(this.logical + 1);
    else if (l === remote.wallMs) {
      this.wallMs = l;
      this.tick(remote.logical + 1);
    } else {
      this.wallMs = l;
      this.logical = 0;
    }
    return this.last();
  }

  /** Sets the logical part, carrying into wallMs when it would overflow. */
  private tick(logical: number): void {
    if (logical <= hlcLogicalMax) {
      this.logical = logical;
      return;
    }
    if (this.wallMs >= hlcWallMsMax) throw new HlcError(HlcErrorCode.InvalidTime, "wallMs would pass 2^43-1");
    this.wallMs += 1;
    this.logical = 0;
  }
}

/** Total order on timestamps: -1, 0 or 1. (Ties between nodes are equal;
 *  append a node id if a strict total order across nodes is needed.) */
export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): -1 | 0 | 1 {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

/** One safe integer, wallMs × 2^10 + logical; numeric order = HLC order. */
export function packHlc(ts: HlcTimestamp): number {
  checkTimestamp(ts, "timestamp");
  return ts.wallMs * (hlcLogicalMax + 1) + ts.logical;
}

export function unpackHlc(packed: number): HlcTimestamp {
  if (!Number.isSafeInteger(packed) || packed < 0) {
    throw new HlcError(HlcErrorCode.InvalidTimestamp, `packed HLC must be a non-negative safe integer, got ${packed}`);
  }
  const logical = packed % (hlcLogicalMax + 1);
  return { wallMs: (packed - logical) / (hlcLogicalMax + 1), logical };
}
