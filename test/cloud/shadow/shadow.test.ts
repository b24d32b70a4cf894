// Device shadows on a real 3-node nats-server cluster (R3 bucket, where a
// KV compare-and-set can let two writers win): two cloud writers on
// different servers, a gateway, and a simulated device (the firmware's
// ShadowReplica) that edits its reported state offline. Every read from
// every server must show the same siblings; the history of a multi-writer
// run must pass the causal checker.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCausal, type CausalOp } from "../../../cloud/check";
import { ShadowDoc, ShadowError, ShadowStore, applyShadowReport, shadowBucket, shadowKey, defaultShadowLimits, shadowDeltaSets, type FieldView, type ShadowEvent, type ShadowFields } from "../../../cloud/shadow";
import { DeviceEvent, deviceEventSubject } from "../../../cloud/subjects";
import { contextJoin, type DvvContext, type DvvSet } from "../../../shared/clock/dvv";
import { fieldsFromWire, fieldsToWire } from "../../../shared/clock/dvv-wire";
import { createDesiredConfig, createEnvelope, createHeartbeat, decodeEnvelope, encodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import { ShadowReplica, deltaFromSets, type ShadowDeltaField } from "../../../firmware/device/shadow";
import { startNats, type NatsCluster } from "../../harness/nats";
import { until } from "../../harness/wait";

let nats: NatsCluster;
const conns: NatsConnection[] = [];
/** One store per server: cloud nodes A and B, and a reader on the third server. */
let A: ShadowStore;
let B: ShadowStore;
let R: ShadowStore;

beforeAll(async () => {
  nats = await startNats({ size: 3, replicas: 3 });
  for (const n of nats.nodes) conns.push(await connect({ servers: n.natsUrl }));
  A = await ShadowStore.open(conns[0]!, { bucket: { replicas: 3 } });
  B = await ShadowStore.open(conns[1]!, { bucket: { replicas: 3 } });
  R = await ShadowStore.open(conns[2]!, { bucket: { replicas: 3 } });
}, 120_000);

afterAll(async () => {
  for (const c of conns) await c.close().catch(() => {});
  await nats?.stop();
});

const sig = (f: FieldView | undefined) => (f?.siblings ?? []).map((s) => `${s.writer}:${s.counter}=${JSON.stringify(s.value)}`).sort();

async function readEverywhere(deviceId: string, doc: ShadowDoc, field: string): Promise<string[][]> {
  return Promise.all([A, B, R].map(async (s) => sig((await s.getDoc(deviceId, doc)).fields[field])));
}

describe("device shadow on a 3-node cluster", () => {
  it("a multi-field write is one revision and one event; its guard sees the joined document and may refuse it (the edge scheduler's fence)", async () => {
    const id = "shadow-multi";
    const events: ShadowEvent[] = [];
    const sub = conns[2]!.subscribe(deviceEventSubject(id, DeviceEvent.Shadow), { callback: (_e, m) => { events.push(m.json<ShadowEvent>()); } });
    await conns[2]!.flush();
    await A.put(id, ShadowDoc.Desired, "api-A", "job.old", "rules;ch=t;gt=1", {});
    const seen: string[][] = [];
    // Two processes writing as one writer id ("edge"): their writes serialize on the key <id>.desired.edge.
    const w = await A.write(id, ShadowDoc.Desired, "edge", [
      { field: "job.agg-1", value: "aggregate;w=5000" }, { field: "job.old", deleted: true }, { field: "edge.fence", value: "7" },
    ], { actor: "sched-1", guard: (f) => { seen.push(Object.keys(f).sort()); } });
    expect(w.op).toMatchObject({ kind: "write", fields: ["job.agg-1", "job.old", "edge.fence"], actor: "sched-1" });
    expect(w.fields!["job.agg-1"]!.values).toEqual(["aggregate;w=5000"]);
    expect(w.fields!["job.old"]!.values).toEqual([]); // the default context is the one read: the api's value is gone too
    expect(seen).toEqual([["job.old"]]);
    const fenceOf = (f: ShadowFields) => Math.max(0, ...(f["edge.fence"]?.siblings ?? []).map((x) => Number(JSON.parse(x.value))));
    const stale = (token: number) => (f: ShadowFields) => { if (fenceOf(f) > token) throw new Error(`stale token ${token}`); };
    await expect(B.write(id, ShadowDoc.Desired, "edge", [{ field: "job.agg-1", deleted: true }, { field: "edge.fence", value: "3" }], { guard: stale(3) }))
      .rejects.toThrow(/stale token 3/);
    const after = await R.fields(id, ShadowDoc.Desired);
    expect(after["job.agg-1"]!.siblings.map((x) => x.value)).toEqual(['"aggregate;w=5000"']);
    await B.write(id, ShadowDoc.Desired, "edge", [{ field: "job.agg-1", deleted: true }, { field: "edge.fence", value: "9" }], { guard: stale(9) });
    expect(fenceOf(await R.fields(id, ShadowDoc.Desired))).toBe(9);
    await until("three shadow events (put, write, write)", () => events.length >= 3);
    expect(events.map((e) => [e.writer, e.op.kind])).toEqual([["api-A", "put"], ["edge", "write"], ["edge", "write"]]);
    // Bad writes are refused before any I/O.
    await expect(A.write(id, ShadowDoc.Desired, "edge", [])).rejects.toMatchObject({ code: "invalid" });
    await expect(A.write(id, ShadowDoc.Desired, "edge", [{ field: "a", value: 1 }, { field: "a", deleted: true }])).rejects.toMatchObject({ code: "invalid" });
    sub.unsubscribe();
  });

  it("two cloud writers writing one field concurrently converge to the same siblings on every read; a write with the context read resolves them", async () => {
    const id = "shadow-conc";
    for (let round = 0; round < 10; round++) {
      const ctx = (await R.getDoc(id, ShadowDoc.Desired)).fields.led?.context ?? {};
      // Both read the same state, then write at the same time through different servers.
      const [a, b] = await Promise.all([
        A.put(id, ShadowDoc.Desired, "api-A", "led", `a${round}`, ctx, { actor: "op-a" }),
        B.put(id, ShadowDoc.Desired, "api-B", "led", `b${round}`, ctx, { actor: "op-b" }),
      ]);
      const reads = await readEverywhere(id, ShadowDoc.Desired, "led");
      const want = [`api-A:${a.op.dot!.counter}="a${round}"`, `api-B:${b.op.dot!.counter}="b${round}"`].sort();
      for (const r of reads) expect(r).toEqual(want); // neither lost, the previous round's values replaced
    }
    const seen = (await A.getDoc(id, ShadowDoc.Desired)).fields.led!;
    expect(seen.values.length).toBe(2);
    const resolved = await B.put(id, ShadowDoc.Desired, "api-B", "led", "on", seen.context, { actor: "op-c" });
    expect(resolved.field!.values).toEqual(["on"]);
    for (const r of await readEverywhere(id, ShadowDoc.Desired, "led")) expect(r).toEqual([`api-B:${resolved.op.dot!.counter}="on"`]);
    // The delta to the device: one desired value, nothing reported yet.
    const view = await R.get(id);
    expect(view.delta.fields.led?.value).toBe("on");
    expect(view.delta.conflicts).toEqual([]);
  }, 120_000);

  it("conflicting desired values are held back from the device until resolved; too many concurrent values are refused", async () => {
    const id = "shadow-held";
    await A.put(id, ShadowDoc.Desired, "api-A", "mode", "eco", {});
    await B.put(id, ShadowDoc.Desired, "api-B", "mode", "boost", {});
    const v = await R.get(id);
    expect(v.delta.conflicts).toEqual(["mode"]);
    expect(v.delta.fields.mode).toBeUndefined();
    for (let i = 2; i < defaultShadowLimits.siblingsMax; i++) await A.put(id, ShadowDoc.Desired, "api-A", "mode", `m${i}`, {});
    await expect(A.put(id, ShadowDoc.Desired, "api-A", "mode", "one-too-many", {})).rejects.toMatchObject({ code: "conflict" });
    await expect(A.put(id, ShadowDoc.Desired, "api-A", "bad name", 1, {})).rejects.toBeInstanceOf(ShadowError);
    await expect(A.put(id, ShadowDoc.Desired, "api-A", "big", "x".repeat(2000), {})).rejects.toMatchObject({ code: "too_large" });
    await expect(A.merge(id, ShadowDoc.Reported, "dev", { t: { siblings: [{ writer: "dev", counter: 3, value: "1" }], context: { dev: 2 } } })).rejects.toMatchObject({ code: "invalid" });
    await expect(applyShadowReport(A, id, { fields: [{ name: "t", values: [{ writer: "dev", counter: 1, valueJson: "not json" }], context: [{ writer: "dev", counter: 1 }] }] })).rejects.toMatchObject({ code: "invalid" });
    await expect(applyShadowReport(A, id, { fields: [{ name: "t", values: [], context: [{ writer: "bad.id", counter: 1 }] }] })).rejects.toMatchObject({ code: "invalid" });
    expect(await applyShadowReport(A, id, undefined)).toBeNull();
    // A document refuses a writer past writersMax (here 2), and still reads every key.
    // (Opening with other limits reuses the bucket as created.)
    const small = await ShadowStore.open(conns[0]!, { limits: { writersMax: 2, historyPerWriterMax: 4 }, bucket: { replicas: 3 } });
    await expect(small.put(id, ShadowDoc.Desired, "api-C", "mode", "x", {})).rejects.toMatchObject({ code: "too_large" });
    expect((await small.getDoc(id, ShadowDoc.Desired)).writers).toEqual(["api-A", "api-B"]);
  }, 60_000);

  it("a device edits reported state offline, a gateway writes for it meanwhile; on reconnect everything merges, stale reports are harmless", async () => {
    const id = "shadow-dev";
    const events: ShadowEvent[] = [];
    const sub = conns[2]!.subscribe(deviceEventSubject(id, DeviceEvent.Shadow), { callback: (_e, m) => { events.push(m.json<ShadowEvent>()); } });
    await conns[2]!.flush();
    const dev = new ShadowReplica();
    // Online: the operator wants 21.5; the device applies the delta and reports.
    await A.put(id, ShadowDoc.Desired, "api-A", "setpoint", 21.5, {});
    expect(dev.applyDelta(await downlink(id))).toEqual(["setpoint"]);
    const r1 = dev.report();
    await uplink(B, id, r1);
    dev.acknowledged(r1);
    expect((await R.get(id)).delta.fields).toEqual({});

    // Offline: a local edit twice (a knob), while a gateway reports a concurrent value for the device.
    dev.edit("setpoint", "19");
    const stale = dev.report();
    dev.edit("setpoint", "18");
    const gw = new ShadowReplica("gw-g1"); // the gateway's replica of its child's reported document
    gw.absorb(await R.fields(id, ShadowDoc.Reported));
    gw.edit("setpoint", "20");
    await A.merge(id, ShadowDoc.Reported, "gw-g1", gw.report(), "gw-g1");

    // Reconnect: the newer report arrives first, then the stale one (redelivered out of order).
    await uplink(B, id, dev.report());
    await uplink(A, id, stale);
    for (const r of await readEverywhere(id, ShadowDoc.Reported, "setpoint")) expect(r.map((s) => s.split("=")[1]).sort()).toEqual(["18", "20"]);
    // The device absorbs the cloud's reported copy and settles on the desired value again.
    dev.absorb(await R.fields(id, ShadowDoc.Reported));
    expect(dev.values("setpoint").sort()).toEqual(["18", "20"]);
    expect((await R.get(id)).delta.fields.setpoint?.value).toBe(21.5);
    dev.applyDelta(await downlink(id));
    await uplink(B, id, dev.report());
    for (const r of await readEverywhere(id, ShadowDoc.Reported, "setpoint")) expect(r.map((s) => s.split("=")[1])).toEqual(["21.5"]);
    expect((await R.get(id)).delta).toEqual({ fields: {}, deleted: {}, conflicts: [] });

    // History keeps every stored operation; events announced each change (the stale report changed nothing).
    const h = await R.history(id, ShadowDoc.Reported);
    expect(h.map((e) => `${e.writer}:${e.op.kind}`)).toEqual(["dev:merge", "gw-g1:merge", "dev:merge", "dev:merge", "dev:merge"]);
    await until("shadow events", () => events.length >= 5);
    expect(events.filter((e) => e.doc === "reported").length).toBe(4);
    expect(R.dotConflicts + A.dotConflicts + B.dotConflicts).toBe(0);
    await sub.unsubscribe();
  }, 60_000);

  it("the guard runs again on every compare-and-set retry: a newer scheduler's fence stored between our read and our write refuses it", async () => {
    const id = "shadow-guard-retry";
    const kv = await new Kvm(conns[0]!).open(shadowBucket);
    const edgeKey = shadowKey(id, ShadowDoc.Desired, "edge");
    let interposed = false;
    // The real bucket; only the first update of the edge key lets the newer scheduler (B, token 12) write first, so ours loses its CAS.
    const racing = new Proxy(kv, {
      get(t, p) {
        if (p === "update") {
          return async (k: string, v: Uint8Array, rev: number) => {
            if (k === edgeKey && !interposed) {
              interposed = true;
              await B.write(id, ShadowDoc.Desired, "edge", [{ field: "edge.fence", value: "12" }]);
            }
            return t.update(k, v, rev);
          };
        }
        const x = Reflect.get(t, p) as unknown;
        return typeof x === "function" ? (x as (...a: unknown[]) => unknown).bind(t) : x;
      },
    }) as KV;
    const ours = new ShadowStore(conns[0]!, racing, { events: false });
    await ours.write(id, ShadowDoc.Desired, "edge", [{ field: "edge.fence", value: "10" }]); // the key exists: the next write is an update
    const fences: number[] = [];
    const guard = (f: ShadowFields) => {
      const stored = Math.max(0, ...(f["edge.fence"]?.siblings ?? []).map((x) => Number(JSON.parse(x.value))));
      fences.push(stored);
      if (stored > 10) throw new Error(`stale token 10 (stored ${stored})`);
    };
    await expect(ours.write(id, ShadowDoc.Desired, "edge", [{ field: "job.x", value: "aggregate;w=5000" }, { field: "edge.fence", value: "10" }], { guard }))
      .rejects.toThrow(/stale token 10 \(stored 12\)/);
    expect(interposed).toBe(true);
    expect(fences).toEqual([10, 12]); // first attempt saw our own fence; the retry saw the newer one and refused
    expect((await R.fields(id, ShadowDoc.Desired))["job.x"]).toBeUndefined();
  });

  it("a multi-writer run with a device going offline passes the causal checker", async () => {
    const id = "shadow-check";
    const keys = ["led", "mode"];
    const ops: CausalOp[] = [];
    let n = 0;
    const toSiblings = (f: FieldView | undefined) => (f?.siblings ?? []).map((s) => ({ writer: s.writer, counter: s.counter, value: String(s.value) }));
    let maxSiblings = 0;
    const local = (r: ShadowReplica, k: string) => r.field(k).siblings.map((x) => ({ writer: x.writer, counter: x.counter, value: JSON.parse(x.value) as string }));
    // A cloud session: writes through its node with the context of all it saw, reads anywhere.
    const session = async (name: string, store: ShadowStore, writer: string, rounds: number, seed: number) => {
      const ctx: Record<string, DvvContext> = {};
      let s = seed;
      const rnd = (m: number) => { s = (s * 1103515245 + 12345) % 2 ** 31; return Math.floor(s / 65536) % m; }; // high bits: the low ones cycle
      for (let i = 0; i < rounds; i++) {
        const key = keys[rnd(keys.length)]!;
        const what = rnd(8);
        if (what === 0) {
          // A delete with the context of all the session saw of the field: removes exactly that.
          const r = await store.delete(id, ShadowDoc.Desired, writer, key, ctx[key] ?? {});
          ops.push({ kind: "delete", session: name, key });
          ops.push({ kind: "read", session: name, key, siblings: toSiblings(r.field) });
          ctx[key] = contextJoin(ctx[key] ?? {}, r.field!.context);
        } else if (what < 4) {
          const reader = [A, B, R][rnd(3)]!;
          const f = (await reader.getDoc(id, ShadowDoc.Desired)).fields[key];
          maxSiblings = Math.max(maxSiblings, f?.siblings.length ?? 0);
          ctx[key] = contextJoin(ctx[key] ?? {}, f?.context ?? {});
          ops.push({ kind: "read", session: name, key, siblings: toSiblings(f) });
        } else {
          const value = `${name}-${n++}`;
          const r = await store.put(id, ShadowDoc.Desired, writer, key, value, ctx[key] ?? {});
          ops.push({ kind: "write", session: name, key, value, dot: r.op.dot! });
          // The reply shows the field after the write: the session saw it.
          ops.push({ kind: "read", session: name, key, siblings: toSiblings(r.field) });
          ctx[key] = contextJoin(ctx[key] ?? {}, r.field!.context);
        }
      }
    };
    // The device: edits its reported fields, offline for stretches (reports then wait), absorbs the cloud's copy now and then.
    const repKeys = ["temp", "state"];
    const device = async (rounds: number) => {
      const dev = new ShadowReplica();
      let online = true;
      for (let i = 0; i < rounds; i++) {
        if (i % 12 === 0) online = !online;
        const key = repKeys[i % repKeys.length]!;
        const value = `dev-${n++}`;
        const counter = dev.edit(key, JSON.stringify(value));
        ops.push({ kind: "write", session: "dev", key: `rep/${key}`, value, dot: { writer: "dev", counter } });
        if (!online) continue;
        const sent = dev.report();
        await [A, B][i % 2]!.merge(id, ShadowDoc.Reported, "dev", sent, "device");
        dev.acknowledged(sent);
        if (i % 5 === 0) {
          dev.absorb(await R.fields(id, ShadowDoc.Reported));
          for (const k of repKeys) ops.push({ kind: "read", session: "dev", key: `rep/${k}`, siblings: local(dev, k) });
        }
      }
      await A.merge(id, ShadowDoc.Reported, "dev", dev.report(true), "device"); // back online for good
    };
    // A gateway writing the child's "state" concurrently with its own replica.
    const gateway = async (rounds: number) => {
      const gw = new ShadowReplica("gw-g1");
      for (let i = 0; i < rounds; i++) {
        gw.absorb(await R.fields(id, ShadowDoc.Reported));
        ops.push({ kind: "read", session: "gw", key: "rep/state", siblings: local(gw, "state") });
        const value = `gw-${n++}`;
        const counter = gw.edit("state", JSON.stringify(value));
        ops.push({ kind: "write", session: "gw", key: "rep/state", value, dot: { writer: "gw-g1", counter } });
        await B.merge(id, ShadowDoc.Reported, "gw-g1", gw.report(), "gw-g1");
      }
    };
    // An integrator reading the reported document from any server.
    const watcher = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const doc = await [A, B, R][i % 3]!.getDoc(id, ShadowDoc.Reported);
        for (const k of repKeys) ops.push({ kind: "read", session: "watch", key: `rep/${k}`, siblings: toSiblings(doc.fields[k]) });
      }
    };
    await Promise.all([
      device(60),
      gateway(15),
      watcher(30),
      session("op1", A, "api-A", 40, 1),
      session("op2", B, "api-B", 40, 2),
      session("op3", A, "api-A", 40, 3), // two sessions through one node: dots from one writer, still concurrent
      session("int1", B, "api-B", 40, 4),
    ]);
    for (const [name, reader] of [["f1", A], ["f2", B], ["f3", R]] as const) {
      const doc = await reader.getDoc(id, ShadowDoc.Desired);
      for (const key of keys) ops.push({ kind: "read", session: name, key, siblings: toSiblings(doc.fields[key]), final: true });
      const rep = await reader.getDoc(id, ShadowDoc.Reported);
      for (const k of repKeys) ops.push({ kind: "read", session: name, key: `rep/${k}`, siblings: toSiblings(rep.fields[k]), final: true });
    }
    const rep = checkCausal(ops);
    console.log(`[shadow] causal check: ${rep.writes} writes, ${rep.deletes} deletes, ${rep.reads} reads, ${rep.pastWritesChecked} (read, past write) pairs checked, max siblings ${maxSiblings}`);
    expect(rep.violations).toEqual([]);
    expect(rep.deletes).toBeGreaterThan(5);
    expect(rep.writes).toBeGreaterThan(140);
    expect(rep.pastWritesChecked).toBeGreaterThan(100);
    expect(maxSiblings).toBeGreaterThan(1); // the run really had concurrent writes
  }, 180_000);
});

/** Cloud → device through the wire: the delta as DesiredConfig.shadow_delta in an Envelope, decoded as the device does. */
async function downlink(id: string): Promise<Record<string, ShadowDeltaField>> {
  const { sets } = shadowDeltaSets(await R.fields(id, ShadowDoc.Desired), await R.fields(id, ShadowDoc.Reported));
  const bytes = encodeEnvelope(createEnvelope({ deviceId: id, config: createDesiredConfig({ version: 1, shadowDelta: { fields: fieldsToWire(sets) } }) }));
  const got = decodeEnvelope(bytes).config!.shadowDelta!;
  return deltaFromSets(fieldsFromWire(got.fields));
}

/** Device → cloud through the wire: the report on a heartbeat's Envelope, decoded and handed to the ingest hook. */
async function uplink(store: ShadowStore, id: string, fields: Record<string, DvvSet>): Promise<void> {
  const bytes = encodeEnvelope(createEnvelope({ deviceId: id, seq: 1, heartbeat: createHeartbeat({ heartbeatSeq: 1 }), shadowReport: { fields: fieldsToWire(fields) } }));
  const env = decodeEnvelope(bytes);
  await applyShadowReport(store, env.deviceId, env.shadowReport);
}
