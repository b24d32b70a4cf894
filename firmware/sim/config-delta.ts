// The cloud's side of a device's configuration in the simulators and tests
// (docs/shadow.md, "Configuration"): a desired document kept as DVV sets by
// one writer, and the shadow delta a `DesiredConfig.shadow_delta` downlink
// carries, built with shared/clock (no cloud code: firmware/ must not
// import it). A deleted field rides as the empty set with its context, as
// the cloud's ShadowDeltaPusher sends it. Plain ES: runs on XS and Node.
import { type DvvSet, dvvDiscard, dvvEmpty, dvvPut } from "../../shared/clock/dvv";
import { fieldsToWire } from "../../shared/clock/dvv-wire";
import { createDesiredConfig, createEnvelope, encodeEnvelope, schemaVersion, type DesiredConfig } from "../../shared/proto/xsfleet.gen";

export class SimDesiredShadow {
  readonly #fields = new Map<string, DvvSet>();
  readonly #writer: string;

  constructor(writer = "api-sim") {
    this.#writer = writer;
  }

  /** Sets a field to a JSON value (a cadence number or a setting string), replacing what this writer wrote. */
  set(field: string, value: string | number): this {
    const cur = this.#fields.get(field) ?? dvvEmpty();
    this.#fields.set(field, dvvPut(cur, JSON.stringify(value), cur.context, this.#writer).set);
    return this;
  }

  /** Deletes a field (its values discarded; the context stays, so the delta carries the deletion). */
  delete(field: string): this {
    const cur = this.#fields.get(field);
    if (cur !== undefined) this.#fields.set(field, dvvDiscard(cur, cur.context));
    return this;
  }

  /** The delta of the named fields (default: all), as the cfg downlink's DesiredConfig carries it. */
  config(fields?: readonly string[]): DesiredConfig {
    const sets: Record<string, DvvSet> = {};
    for (const f of fields ?? [...this.#fields.keys()]) {
      const s = this.#fields.get(f);
      if (s !== undefined) sets[f] = s;
    }
    return createDesiredConfig({ version: 0, shadowDelta: { fields: fieldsToWire(sets) } });
  }

  /** The cfg downlink Envelope of `config(fields)`. */
  envelope(deviceId: string, seq: number, fields?: readonly string[]): Uint8Array {
    return encodeEnvelope(createEnvelope({ schemaVersion, deviceId, seq, config: this.config(fields) }));
  }
}
