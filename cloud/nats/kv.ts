// Helpers for NATS KV compare-and-set, shared by every bucket the cloud
// writes (device state, registry, commands, fenced resources).
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { JsPublishError } from "./js-publisher";

/** True when a KV create/update lost a compare-and-set race (someone wrote first). */
export function isCasConflict(err: unknown): boolean {
  if (err instanceof JetStreamApiError || err instanceof JsPublishError) {
    return err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown;
  }
  // kv.create reports an existing key as a plain error in some versions.
  return err instanceof Error && /wrong last sequence|key exists/i.test(err.message);
}
