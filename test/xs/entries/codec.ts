// Runs on XS: encodes a telemetry batch (adaptive codec) and a Gorilla
// series, decodes both back, and returns the bytes for comparison with Node.
import { decodeBatch, decodeGorilla, encodeBatch, encodeGorilla, type TelemetryBatch } from "../../../shared/codec/index";

export default function run(batch: TelemetryBatch) {
  const bytes = encodeBatch(batch);
  const back = decodeBatch(bytes);
  const values = batch.channels[0]?.values ?? [];
  const gorilla = encodeGorilla({ t0Ms: batch.t0Ms, timestampsMs: batch.timestampsMs, values });
  const gorillaBack = decodeGorilla(gorilla);
  return {
    bytes: Array.from(bytes),
    gorilla: Array.from(gorilla),
    decoded: back,
    gorillaDecoded: { timestampsMs: gorillaBack.timestampsMs, values: gorillaBack.values },
  };
}
