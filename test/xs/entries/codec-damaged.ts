// Runs on XS: decodes damaged encodings (truncations and single-bit flips)
// with a reused BatchDecoder and reports each outcome, for comparison with
// Node's: the decoder's int32 range-coder arithmetic must give the same
// values and the same CodecErrors on both engines.
import { BatchDecoder, CodecError } from "../../../shared/codec/index";

export interface DamagedInput {
  inputs: number[][];
}

export type DamagedOutcome = { ok: { t0Ms: number; timestampsMs: readonly number[]; values: (readonly number[])[] } } | { reason: string; message: string };

export default function run({ inputs }: DamagedInput): DamagedOutcome[] {
  const decoder = new BatchDecoder();
  return inputs.map((bytes) => {
    try {
      const b = decoder.decode(Uint8Array.from(bytes), { pointsMax: 512, channelsMax: 8 });
      return { ok: { t0Ms: b.t0Ms, timestampsMs: b.timestampsMs, values: b.channels.map((c) => c.values) } };
    } catch (e) {
      if (e instanceof CodecError) return { reason: e.reason, message: e.message };
      throw e;
    }
  });
}
