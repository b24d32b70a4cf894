// The device's replica of its shadow (docs/shadow.md): its reported
// document as DVV sets (shared/clock/dvv.ts) under the writer id "dev", so
// edits made while offline carry their causal history and merge correctly
// with the cloud's copy when the device reconnects.
//
// - applyDelta: the cloud's delta (desired fields with one value) becomes
//   reported values, written with the context of the device's own reported
//   field (the device replaces what it reported before, nothing else). A
//   field the delta carries as the empty set was deleted from the desired
//   document: the replica discards its reported field (with its own
//   context), so the next report carries the deletion.
// - edit: a local change (a button, a sensor-side limit), online or not.
// - report: the fields changed since the last acknowledged report, as DVV
//   sets; the cloud joins them (idempotent, order-insensitive), so a lost or
//   repeated report is harmless: the next one carries everything again.
// - absorb: joins the cloud's reported document (e.g. values a gateway wrote
//   for this device), so the next edit replaces them too and the device's
//   counter continues after what the cloud has seen of it (a device that
//   lost its flash must absorb before editing, or its dots repeat: the cloud
//   counts such dot conflicts).
//
// Transport (runtime.ts): deltas arrive in `DesiredConfig.shadow_delta`
// (applyWireDelta); reports ride on heartbeats (heartbeatReport).
// Values are canonical JSON text, as the cloud sends them. Bounds: at most
// `fieldsMax` fields (shadowFieldsMaxDefault); DVV bounds as in dvv.ts.
// Plain ES: runs on XS (no Node APIs) and on Node.
import { type DvvSet, dvvDiscard, dvvEmpty, dvvJoin, dvvPut } from "../../shared/clock/dvv";
import { fieldsFromWire, fieldsToWire } from "../../shared/clock/dvv-wire";
import { decodeShadowReport, encodeShadowReport, type ShadowDelta, type ShadowReport } from "../../shared/proto/xsfleet.gen";
import type { Storage } from "../platform";

export const shadowFieldsMaxDefault = 32;
/** Storage key of the persisted replica (a ShadowReport of all fields). */
const storageKey = "shd";
/** Every this many heartbeats the whole reported document rides along
 *  (anti-entropy): heartbeats are QoS 1 without receipts and the cloud side
 *  may take reports at most once, so a lost report is healed by a later one. */
export const shadowFullReportEveryHeartbeats = 10;
export const deviceShadowWriterId = "dev";

export interface ShadowDeltaField {
  /** Canonical JSON text of the desired value; null: the field was deleted (remove it). */
  valueText: string | null;
}

/** A downlink's delta (DesiredConfig.shadow_delta, decoded with fieldsFromWire) as applyDelta takes it. */
export function deltaFromSets(sets: Readonly<Record<string, DvvSet>>): Record<string, ShadowDeltaField> {
  const out: Record<string, ShadowDeltaField> = {};
  for (const f of Object.keys(sets)) {
    const n = sets[f]!.siblings.length;
    // The empty set: deleted in the desired document. Several values: a
    // conflict the cloud should not have sent: skipped.
    if (n === 1) out[f] = { valueText: sets[f]!.siblings[0]!.value };
    else if (n === 0) out[f] = { valueText: null };
  }
  return out;
}

export class ShadowReplica {
  readonly #fields = new Map<string, DvvSet>();
  readonly #dirty = new Set<string>();
  readonly #fieldsMax: number;
  readonly #writer: string;

  readonly #storage: Storage | undefined;

  /** `writer`: "dev" for the device itself; a gateway keeping a child's replica uses "gw-<its id>".
   *  With `storage` the replica survives restarts (its dot counters must never go back). */
  constructor(writer = deviceShadowWriterId, fieldsMax = shadowFieldsMaxDefault, storage?: Storage) {
    this.#writer = writer;
    this.#fieldsMax = fieldsMax;
    this.#storage = storage;
    const bytes = storage?.read(storageKey);
    if (bytes === undefined) return;
    try {
      const fields = fieldsFromWire(decodeShadowReport(bytes).fields, undefined, fieldsMax);
      for (const f of Object.keys(fields)) this.#fields.set(f, fields[f]!);
    } catch {
      // Corrupt: start empty; the cloud still holds the reported document (dots may repeat: counted there).
    }
  }

  #persist(): void {
    if (this.#storage) this.#storage.write(storageKey, encodeShadowReport({ fields: fieldsToWire(this.report(true)) }));
  }

  /** Writes a reported value locally (replacing what this replica knows of the field); returns the write's dot counter. */
  edit(field: string, valueText: string): number {
    const cur = this.#fields.get(field);
    if (!cur && this.#fields.size >= this.#fieldsMax) throw new Error(`shadow: more than ${this.#fieldsMax} fields`);
    const set = cur ?? dvvEmpty();
    const r = dvvPut(set, valueText, set.context, this.#writer);
    this.#fields.set(field, r.set);
    this.#dirty.add(field);
    this.#persist(); // before the report leaves: a restart never reuses this dot
    return r.counter;
  }

  /** This replica's view of one field (siblings as DVV entries). */
  field(field: string): DvvSet {
    return this.#fields.get(field) ?? dvvEmpty();
  }

  /** Applies the desired values the cloud sent (after the actuator took
   *  them), removals included; returns the fields changed. A new field past
   *  fieldsMax is not taken (listed in `full` when given); the rest still is. */
  applyDelta(delta: Readonly<Record<string, ShadowDeltaField>>, full?: string[]): string[] {
    const changed: string[] = [];
    for (const f of Object.keys(delta)) {
      const want = delta[f]!.valueText;
      const cur = this.#fields.get(f);
      if (want === null) {
        if (cur === undefined || cur.siblings.length === 0) continue;
        this.remove(f);
        changed.push(f);
        continue;
      }
      if (cur && cur.siblings.length === 1 && cur.siblings[0]!.value === want) continue;
      if (!cur && this.#fields.size >= this.#fieldsMax) {
        if (full !== undefined) full.push(f);
        continue;
      }
      this.edit(f, want);
      changed.push(f);
    }
    return changed;
  }

  /** Deletes a reported field: discards every value this replica knows of it
   *  (its own context), so the report carries the deletion; the context stays. */
  remove(field: string): void {
    const cur = this.#fields.get(field);
    if (cur === undefined) return;
    this.#fields.set(field, dvvDiscard(cur, cur.context));
    this.#dirty.add(field);
    this.#persist();
  }

  /** Field names this replica holds (deleted ones included: they keep their context). */
  names(): string[] {
    return [...this.#fields.keys()].sort();
  }

  /** Joins the cloud's copy of the reported document. */
  absorb(fields: Readonly<Record<string, DvvSet>>): void {
    for (const f of Object.keys(fields)) {
      const cur = this.#fields.get(f);
      if (!cur && this.#fields.size >= this.#fieldsMax) continue; // bounded: the cloud keeps it
      this.#fields.set(f, dvvJoin(cur ?? dvvEmpty(), fields[f]!).set);
    }
    this.#persist();
  }

  /** The fields to send (all of them with `all`), as plain DVV sets. */
  report(all = false): Record<string, DvvSet> {
    const out: Record<string, DvvSet> = {};
    for (const f of all ? [...this.#fields.keys()] : [...this.#dirty]) out[f] = this.#fields.get(f)!;
    return out;
  }

  /** The cloud stored a report: those fields are clean unless edited since. */
  acknowledged(sent: Readonly<Record<string, DvvSet>>): void {
    for (const f of Object.keys(sent)) if (this.#fields.get(f) === sent[f]) this.#dirty.delete(f);
  }

  /** Applies a downlink's `DesiredConfig.shadow_delta`; returns the fields
   *  changed, or -1 when the delta is malformed (ignored whole: counted by the caller). */
  applyWireDelta(delta: ShadowDelta): string[] | -1 {
    let sets;
    try {
      sets = fieldsFromWire(delta.fields);
    } catch {
      return -1;
    }
    return this.applyDelta(deltaFromSets(sets));
  }

  #heartbeats = 0;

  /** What the next heartbeat carries: the fields changed since the last one,
   *  or every shadowFullReportEveryHeartbeats-th heartbeat all of them;
   *  undefined when there is nothing (a device without a shadow sends nothing). */
  heartbeatReport(): ShadowReport | undefined {
    const full = ++this.#heartbeats % shadowFullReportEveryHeartbeats === 0;
    const fields = this.report(full);
    if (Object.keys(fields).length === 0) return undefined;
    this.acknowledged(fields); // handed to the transport; the full report repairs a loss
    return { fields: fieldsToWire(fields) };
  }

  /** The single value of a field (canonical JSON text); undefined when deleted, absent or conflicted. */
  value(field: string): string | undefined {
    const s = this.#fields.get(field)?.siblings;
    return s !== undefined && s.length === 1 ? s[0]!.value : undefined;
  }

  values(field: string): string[] {
    return (this.#fields.get(field)?.siblings ?? []).map((s) => s.value);
  }
}
