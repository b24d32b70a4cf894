// The ingest hook for device reports (docs/shadow.md, "Wire"): an uplink
// Envelope may carry `shadow_report` (DVV sets of reported fields, written by
// the device or, relayed, by its gateway for it). Ingest's pipeline calls
// applyShadowReport (through its ShadowReportPort, wired in cloud/node) for
// each decoded uplink that carries one, before the device-state write and
// the ack: at least once, and a join, so repeats are harmless.
//
// One key for everything that arrives through ingest for a device (default
// `writerKey` "dev"): ingest handles one device's messages in order (the
// partition owner), so one process writes that key at a time. The dots
// inside the report still name their real writers ("dev", "gw-<gateway>").
// Repeated, reordered or lost reports are harmless (the next one carries
// the fields' whole state again).
import { DvvError } from "../../shared/clock/dvv";
import { fieldsFromWire } from "../../shared/clock/dvv-wire";
import type { ShadowReport } from "../../shared/proto/xsfleet.gen";
import type { ShadowStore, ShadowWriteResult } from "./store";
import { ShadowDoc, ShadowError, ShadowErrorCode } from "./types";
import { deviceShadowWriter } from "./writer";

/** Joins an uplink's shadow report; null when the envelope carries none. Throws ShadowError (invalid) on a malformed report. */
export async function applyShadowReport(
  store: ShadowStore, deviceId: string, report: ShadowReport | undefined, actor = "device", writerKey = deviceShadowWriter,
): Promise<ShadowWriteResult | null> {
  if (!report || report.fields.length === 0) return null;
  let fields;
  try {
    fields = fieldsFromWire(report.fields, { siblingsMax: store.limits.siblingsMax, writersMax: store.limits.writersMax, valueLengthMax: store.limits.valueBytesMax }, store.limits.fieldsMax);
  } catch (e) {
    if (e instanceof DvvError) throw new ShadowError(ShadowErrorCode.Invalid, `shadow report of ${deviceId}: ${e.message}`);
    throw e;
  }
  return store.merge(deviceId, ShadowDoc.Reported, writerKey, fields, actor);
}

/** What ingest's pipeline takes (its ShadowReportPort): `invalid` is the device's fault (counted, skipped); a thrown error is transient (redelivery). */
export interface ShadowReportMerger {
  merge(deviceId: string, report: ShadowReport): Promise<"merged" | "invalid">;
}

/** Joins reports into `store` under the device's key; malformed ones are reported to `onInvalid` and answered `invalid`. */
export function shadowReportMerger(store: ShadowStore, onInvalid: (deviceId: string, message: string) => void = () => {}): ShadowReportMerger {
  return {
    merge: async (deviceId, report) => {
      try {
        await applyShadowReport(store, deviceId, report);
        return "merged";
      } catch (e) {
        if (e instanceof ShadowError && e.code === ShadowErrorCode.Invalid) {
          onInvalid(deviceId, e.message);
          return "invalid";
        }
        throw e;
      }
    },
  };
}
