// Runs on XS: encodes a telemetry batch (adaptive codec) and a Gorilla
// series, decodes both back (the batch also with a reused decoder), and returns the bytes for comparison with Node.
import { BatchDecoder, decodeBatch, decodeGorilla, encodeBatch, encodeGorilla, type TelemetryBatch } from "../../../shared/codec/index";

export default function run(batch: TelemetryBatch) {
  const bytes = encodeBatch(batch);
  const back = decodeBatch(bytes);
  // A reused decoder (the cloud's) runs on XS too: its second decode starts from reset models.
  const reused = new BatchDecoder();
  reused.decode(bytes);
  const reusedBack = reused.decode(bytes);
  const values = batch.channels[0]?.values ?? [];
  const gorilla = encodeGorilla({ t0Ms: batch.t0Ms, timestampsMs: batch.timestampsMs, values });
  const gorillaBack = decodeGorilla(gorilla);
  return {
    bytes: Array.from(bytes),
    gorilla: Array.from(gorilla),
    decoded: back,
    reusedDecoded: reusedBack,
    gorillaDecoded: { timestampsMs: gorillaBack.timestampsMs, values: gorillaBack.values },
  };
}
