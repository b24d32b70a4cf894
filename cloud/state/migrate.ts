// Upgrades a stored device state of an older format to the current one, once,
// on load (the next write stores the new format). Pure.
//
// v1 -> v2: v1 kept one dedup window per source (`dedup[source] = {hwm,
// bits}`: a ring bitmap of the last `size` seqs up to hwm, bit s mod size,
// base64). v2 keeps one record {epoch, retiredEpochs, floor, ranges}. The
// telemetry window decides (telemetry is the kind devices keep and resend;
// live kinds are idempotent): floor = hwm - size (v1 dead-lettered anything
// at or below it as stale, so nothing there can be applied later), ranges =
// the recorded seqs above it. Epoch 0: v1 had no epochs; a device that now
// sends an epoch carries the record over (0 -> e, docs/delivery.md).
import { emptyDedup, stateFormatVersion, type StoredDedup, type StoredDeviceState } from "./types";

/** The v1 source key of telemetry. */
const v1TelemetrySource = "tele";

interface V1Window {
  hwm: number;
  bits: string;
}

/** The v2 record equivalent to a v1 telemetry window (undefined: none kept). */
export function dedupFromV1Window(w: V1Window | undefined): StoredDedup {
  const d = emptyDedup();
  if (!w || !(Number.isSafeInteger(w.hwm) && w.hwm > 0) || typeof w.bits !== "string") return d;
  const bits = base64Bytes(w.bits);
  const size = bits.length * 8;
  if (size === 0) {
    d.floor = w.hwm;
    return d;
  }
  d.floor = Math.max(0, w.hwm - size);
  for (let s = d.floor + 1; s <= w.hwm; s++) {
    const i = s % size;
    if ((bits[i >>> 3]! & (1 << (i & 7))) === 0) continue;
    const last = d.ranges[d.ranges.length - 1];
    if (last && last[1] === s - 1) last[1] = s;
    else if (s === d.floor + 1 && d.ranges.length === 0) d.floor = s;
    else d.ranges.push([s, s]);
  }
  return d;
}

function base64Bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "base64"));
}

/** Returns `raw` as the current format (a new object when it was upgraded), or throws for an unknown format. */
export function upgradeStoredState(raw: Record<string, unknown>, deviceId: string): StoredDeviceState {
  // `via` came later within v2 (edge tier): a record without it is a direct device.
  if (raw.v === stateFormatVersion) return { ...(raw as unknown as StoredDeviceState), via: typeof raw.via === "string" ? raw.via : "" };
  if (raw.v === 1) {
    const windows = (raw.dedup ?? {}) as Record<string, V1Window | undefined>;
    return { ...(raw as unknown as StoredDeviceState), v: 2, via: "", dedup: dedupFromV1Window(windows[v1TelemetrySource]) };
  }
  throw new Error(`device state for ${deviceId}: unknown format v=${String(raw.v)}`);
}
