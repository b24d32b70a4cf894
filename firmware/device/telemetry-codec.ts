// The one place the firmware touches the time-series codec (shared/codec),
// so a codec API change is a one-file change here.
import { encodeBatch } from "../../shared/codec/batch";
import { Encoding } from "../../shared/proto/xsfleet.gen";

/** The TelemetryBatch.encoding value for payloads made by `encodePoints`. */
export const telemetryEncoding = Encoding.ENCODING_XSF_TS1;

/**
 * Encodes `count` points: timestamps (epoch ms) and one column per channel,
 * each lossless at its resolution. Exact-size output.
 */
export function encodePoints(
  timestampsMs: readonly number[],
  columns: readonly (readonly number[])[],
  resolutions: readonly number[],
): Uint8Array {
  const channels = [];
  for (let i = 0; i < columns.length; i++) channels.push({ values: columns[i]!, resolution: resolutions[i]! });
  return encodeBatch({ t0Ms: timestampsMs[0] ?? 0, timestampsMs, channels }, { pointsMax: timestampsMs.length > 0 ? timestampsMs.length : 1 });
}
