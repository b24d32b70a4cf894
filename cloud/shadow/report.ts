// The ingest hook for device reports (docs/shadow.md, "Wire"): an uplink
// Envelope may carry `shadow_report` (DVV sets of reported fields, written by
// the device or, relayed, by its gateway for it). Ingest calls
// applyShadowReport after decoding; it joins the report into the device's
// reported document under the writer key "dev".
//
// One key for everything that arrives through ingest for a device (default
// `writerKey`): ingest handles one device's messages in order, so one
// process writes that key at a time. A process that takes reports for any
// device (ShadowReportListener) passes its own key instead. Either way the
// dots inside the report still name their real writers ("dev", "gw-<gateway>"). A report is a join: repeated, reordered or lost reports
// are harmless (the next one carries the fields' whole state again).
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
