// Dotted version vector sets of a shadow document on the wire: the
// protobuf ShadowField list (xsfleet.proto, ShadowDelta / ShadowReport) ↔
// field name → DvvSet. Decoding validates like dvvValidate (writer ids,
// counters, dots covered by the context, bounds) and refuses repeated field
// names; errors are DvvError, never a crash. XS-safe.
import type { ShadowField } from "../proto/xsfleet.gen";
import { configFieldPattern } from "../device-config";
import { type DvvLimits, type DvvSet, DvvError, DvvErrorCode, dvvValidate } from "./dvv";

/** Most fields one report or delta carries (the cloud's document bound). */
export const shadowWireFieldsMax = 32;
/** Field names: the device configuration's (dots allowed: `job.<id>`); one pattern for cloud and device. */
const fieldNamePattern = configFieldPattern;

export function fieldsToWire(fields: Readonly<Record<string, DvvSet>>): ShadowField[] {
  const out: ShadowField[] = [];
  for (const name of Object.keys(fields).sort()) {
    const set = fields[name]!;
    out.push({
      name,
      values: set.siblings.map((s) => ({ writer: s.writer, counter: s.counter, valueJson: s.value })),
      context: Object.keys(set.context).map((w) => ({ writer: w, counter: set.context[w]! })),
    });
  }
  return out;
}

export function fieldsFromWire(wire: readonly ShadowField[], limits?: Partial<DvvLimits>, fieldsMax = shadowWireFieldsMax): Record<string, DvvSet> {
  if (wire.length > fieldsMax) throw new DvvError(DvvErrorCode.BadShape, `${wire.length} shadow fields (limit ${fieldsMax})`);
  const out: Record<string, DvvSet> = {};
  for (const f of wire) {
    if (!fieldNamePattern.test(f.name)) throw new DvvError(DvvErrorCode.BadShape, `bad shadow field name ${JSON.stringify(f.name)}`);
    if (Object.prototype.hasOwnProperty.call(out, f.name)) throw new DvvError(DvvErrorCode.BadShape, `shadow field ${f.name} twice`);
    const context: Record<string, number> = {};
    for (const d of f.context) {
      if (Object.prototype.hasOwnProperty.call(context, d.writer)) throw new DvvError(DvvErrorCode.BadShape, `writer ${d.writer} twice in a context`);
      context[d.writer] = d.counter;
    }
    out[f.name] = dvvValidate({ siblings: f.values.map((v) => ({ writer: v.writer, counter: v.counter, value: v.valueJson })), context }, limits);
  }
  return out;
}
