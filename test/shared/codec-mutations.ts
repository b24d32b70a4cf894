// Damage for codec fuzzing: bit flips, truncations and splices applied to an
// encoding, as fast-check values (shared by the fuzz and the reference-decoder tests).
import fc from "fast-check";

export type Mutation = { kind: "flip"; at: number; bit: number } | { kind: "truncate"; at: number } | { kind: "splice"; at: number; bytes: Uint8Array };

export const mutationArb: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
  ),
  { minLength: 1, maxLength: 4 },
);

/** A damaged copy of `input` (the input is not changed). */
export function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Uint8Array.from(input);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === "flip") b[at]! ^= 1 << m.bit;
    else if (m.kind === "truncate") b = b.subarray(0, at);
    else b = Uint8Array.of(...b.subarray(0, at), ...m.bytes, ...b.subarray(at));
  }
  return b;
}
