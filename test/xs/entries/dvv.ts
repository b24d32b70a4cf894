// Runs the dotted version vector set (shared/clock/dvv.ts) through a seeded
// multi-replica workload; the XS test compares this result with Node's.
import {
  type DvvSet, DvvError, dvvDiscard, dvvEmpty, dvvEquals, dvvJoin, dvvPut, dvvValidate,
} from "../../../shared/clock/dvv";
import { fieldsFromWire, fieldsToWire } from "../../../shared/clock/dvv-wire";
import { createEnvelope, createHeartbeat, decodeEnvelope, encodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import { toHex } from "../../../shared/crdt/wire";
import { encodeShadowReport } from "../../../shared/proto/xsfleet.gen";
import { ShadowReplica } from "../../../firmware/device/shadow";
import { xorshift32 } from "./xorshift";

export interface DvvInput {
  seed: number;
  rounds: number;
}

const rng = xorshift32;

const show = (s: DvvSet) => ({ siblings: s.siblings.map((x) => `${x.writer}:${x.counter}=${x.value}`), context: s.context });

export default function run(input: DvvInput) {
  const next = rng(input.seed);
  const writers = ["api-1", "api-2", "dev-7", "gw_0"];
  const values = ["on", "off", "blink", "", "\u00e9t\u00e9", "{\"a\":1}"];
  const replicas: DvvSet[] = writers.map(() => dvvEmpty());
  const seen: DvvSet[] = [dvvEmpty()];
  const puts: Array<{ writer: string; counter: number; ctx: DvvSet["context"] }> = [];
  const errors: Record<string, number> = {};
  let lawFailures = 0;
  for (let i = 0; i < input.rounds; i++) {
    const at = next() % writers.length;
    const op = next() % 10;
    try {
      if (op < 5) {
        const ctx = seen[next() % seen.length]!.context;
        const r = dvvPut(replicas[at]!, values[next() % values.length]!, ctx, writers[at]!, { siblingsMax: 6 });
        replicas[at] = r.set;
        puts.push({ writer: r.writer, counter: r.counter, ctx });
      } else if (op < 6) {
        replicas[at] = dvvDiscard(replicas[at]!, seen[next() % seen.length]!.context);
      } else {
        const from = next() % writers.length;
        const a = replicas[at]!;
        const b = replicas[from]!;
        const ab = dvvJoin(a, b).set;
        if (!dvvEquals(ab, dvvJoin(b, a).set) || !dvvEquals(dvvJoin(ab, a).set, ab)) lawFailures++;
        replicas[at] = ab;
      }
    } catch (e) {
      const k = e instanceof DvvError ? e.code : `unexpected:${String(e)}`;
      errors[k] = (errors[k] ?? 0) + 1;
    }
    seen.push(replicas[at]!);
  }
  let all = dvvEmpty();
  for (const r of replicas) all = dvvJoin(all, r).set;
  let validateErrors = 0;
  for (const bad of [{ siblings: [{ writer: "a", counter: 2, value: "x" }], context: { a: 1 } }, { siblings: [], context: { "a.b": 1 } }, 7]) {
    try {
      dvvValidate(bad);
    } catch (e) {
      if (e instanceof DvvError) validateErrors++;
    }
  }
  // The device's report on the wire: same bytes on XS and Node, lossless.
  const report: Record<string, DvvSet> = {};
  replicas.forEach((r, i) => { report[`f${i}`] = r; });
  const bytes = encodeEnvelope(createEnvelope({ deviceId: "dev-7", seq: 3, heartbeat: createHeartbeat({ heartbeatSeq: 3 }), shadowReport: { fields: fieldsToWire(report) } }));
  const back = fieldsFromWire(decodeEnvelope(bytes).shadowReport!.fields);
  const wireRoundTrip = Object.keys(report).every((k) => dvvEquals(back[k]!, report[k]!));
  // The device's replica as the runtime drives it: a wire delta, offline edits, heartbeat reports.
  const dev = new ShadowReplica();
  const applied = dev.applyWireDelta({ fields: fieldsToWire({ led: dvvPut(dvvEmpty(), '"on"', {}, "api-1").set, sp: dvvPut(dvvEmpty(), "21.5", {}, "api-2").set }) });
  const beats: string[] = [];
  for (let i = 0; i < 12; i++) {
    if (i % 4 === 1) dev.edit("led", i % 8 === 1 ? '"off"' : '"blink"');
    const r = dev.heartbeatReport();
    beats.push(r ? toHex(encodeShadowReport(r)) : "-");
  }
  dev.absorb(all.siblings.length ? { led: all } : {});
  const malformed = dev.applyWireDelta({ fields: [{ name: "x", values: [{ writer: "w", counter: 2, valueJson: "1" }], context: [] }] });
  // A desired field deleted: the empty set removes the reported field; the report carries the deletion.
  const spSet = dvvPut(dvvEmpty(), "21.5", {}, "api-2").set;
  const removed = dev.applyWireDelta({ fields: fieldsToWire({ sp: { siblings: [], context: spSet.context } }) });
  const removal = dev.heartbeatReport();
  return {
    device: { applied, beats, led: dev.values("led"), malformed, removed, sp: dev.values("sp"), removal: removal ? toHex(encodeShadowReport(removal)) : "-" },
    wireHex: toHex(bytes),
    wireRoundTrip,
    replicas: replicas.map(show),
    all: show(all),
    puts: puts.length,
    errors,
    lawFailures,
    validateErrors,
    roundTrip: dvvEquals(dvvValidate(JSON.parse(JSON.stringify(all))), all),
  };
}
