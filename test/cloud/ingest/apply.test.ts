// The pure core of ingest, without a server: any split of a device's
// messages into batches, in any order, with any duplicates, gives the same
// state as applying each message once in order.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { applyBatch, gatewayOfflineReason, ItemOutcome, sweepGatewayPresence, sweepPresence, type IngestItem } from "../../../cloud/ingest/apply";
import { defaultIngestConfig } from "../../../cloud/ingest/settings";
import { decodeDeviceMessage, DlqReason } from "../../../cloud/records";
import { emptyDeviceState, publicState, type StoredDeviceState } from "../../../cloud/state/types";
import { encodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { counterEnvelope, heartbeatEnvelope, helloEnvelope, kindOf, statusEnvelope, telemetryEnvelope } from "./helpers";

const id = "dev-pure";
const lim = { dedupRangesMax: 256, seqJumpMax: 1 << 24 };

function item(env: Envelope, streamSeq: number, timeMs: number): IngestItem {
  const d = decodeDeviceMessage(`xsfleet.v1.dev.${id}.${kindOf(env)}`, encodeEnvelope(env), defaultIngestConfig);
  if (!d.ok) throw new Error(d.detail);
  return { msg: d, streamSeq, timeMs };
}

/** A device's life: hello, telemetry, heartbeats, counters; stream seq = arrival order. */
function history(n: number): IngestItem[] {
  const items: IngestItem[] = [item(helloEnvelope(id, 1, 1000), 1, 1000)];
  for (let s = 2; s <= n; s++) {
    const env = s % 5 === 0 ? heartbeatEnvelope(id, s, s) : s % 7 === 0 ? counterEnvelope(id, s, { [id]: s, other: n - s }) : telemetryEnvelope(id, s, 4);
    items.push(item(env, s, 1000 + s * 10));
  }
  return items;
}

function applyAll(batches: IngestItem[][]): StoredDeviceState {
  let st = emptyDeviceState(id);
  for (const b of batches) st = applyBatch(st, b, lim).state;
  return st;
}

describe("applyBatch", () => {
  const items = history(40);
  const reference = publicState(applyAll(items.map((i) => [i])));

  it("is independent of batching, order within the window and duplicates", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: items.length - 1 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 40 }),
        fc.integer(),
        (dupIdx, sizes, seed) => {
          // Every message once plus some duplicates, shuffled, cut into batches.
          const all = [...items, ...dupIdx.map((i) => items[i]!)];
          let x = seed;
          for (let i = all.length - 1; i > 0; i--) {
            x = (x * 1103515245 + 12345) & 0x7fffffff;
            const j = x % (i + 1);
            [all[i], all[j]] = [all[j]!, all[i]!];
          }
          const batches: IngestItem[][] = [];
          for (let k = 0, at = 0; at < all.length; k++) {
            const size = sizes[k % sizes.length]!;
            batches.push(all.slice(at, at + size));
            at += size;
          }
          const got = publicState(applyAll(batches));
          expect(got.telemetry).toEqual(reference.telemetry);
          expect(got.readings).toEqual(reference.readings);
          expect(got.counters).toEqual(reference.counters);
          expect(got.hello).toEqual(reference.hello);
          expect(got.heartbeat).toEqual(reference.heartbeat);
          expect(got.lastSeenMs).toBe(reference.lastSeenMs);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("reports duplicates and emits online once (registered comes only from the API)", () => {
    const st = emptyDeviceState(id);
    const r1 = applyBatch(st, [items[0]!, items[1]!], lim);
    expect(r1.events.map((e) => e.event).sort()).toEqual(["online"]);
    const r2 = applyBatch(r1.state, [items[1]!, items[0]!], lim);
    expect(r2.changed).toBe(false);
    expect(r2.duplicates).toBe(2);
    expect(r2.outcomes).toEqual([ItemOutcome.Duplicate, ItemOutcome.Duplicate]);
    expect(r2.events).toEqual([]);
  });

  it("takes presence from the server's order of hello/status (a late will wins, then the next hello)", () => {
    let st = applyBatch(emptyDeviceState(id), [item(helloEnvelope(id, 10), 1, 100), item(statusEnvelope(id, 11, true), 2, 101)], lim).state;
    expect(st.presence.state).toBe("online");
    // The will carries an older seq (allocated at connect) but arrives later.
    const will = applyBatch(st, [item(statusEnvelope(id, 9, false), 3, 200)], lim);
    expect(will.state.presence).toMatchObject({ state: "offline", source: "status", reason: "will" });
    expect(will.events.map((e) => e.event)).toEqual(["offline"]);
    st = will.state;
    // A heartbeat from the old session does not bring it back; the next hello does.
    expect(applyBatch(st, [item(heartbeatEnvelope(id, 12, 1), 7, 150)], lim).state.presence.state).toBe("offline");
    expect(applyBatch(st, [item(helloEnvelope(id, 20), 4, 300)], lim).state.presence.state).toBe("online");
  });

  it("times out silent devices and brings them back on activity", () => {
    const st = applyBatch(emptyDeviceState(id), [item(helloEnvelope(id, 1, 1000), 1, 5000)], lim).state;
    const opts = { heartbeatTimeoutFactor: 3, heartbeatIntervalDefaultMs: 10_000 };
    expect(sweepPresence(st, 7_999, opts)).toBeNull();
    const off = sweepPresence(st, 8_001, opts)!;
    expect(off.state.presence).toMatchObject({ state: "offline", source: "heartbeat-timeout" });
    expect(off.event.event).toBe("offline");
    const back = applyBatch(off.state, [item(heartbeatEnvelope(id, 2, 1), 1, 9000)], lim);
    expect(back.state.presence).toMatchObject({ state: "online", source: "activity" });
    expect(back.events.map((e) => e.event)).toEqual(["online"]);
  });

  it("marks a child offline when its gateway went offline after its last message, and back online on its next message", () => {
    const via = (env: Envelope, gw: string): Envelope => ({ ...env, via: gw });
    const child = applyBatch(emptyDeviceState(id), [item(via(helloEnvelope(id, 1, 1000), "gw-a"), 1, 5000)], lim).state;
    expect(child.via).toBe("gw-a");
    const gwOnline = emptyDeviceState("gw-a");
    gwOnline.presence = { state: "online", sinceMs: 1000, source: "hello", reason: "hello" };
    expect(sweepGatewayPresence(child, gwOnline, 9000)).toBeNull();
    expect(sweepGatewayPresence(child, null, 9000)).toBeNull();
    const gwGone = { ...gwOnline, presence: { state: "offline" as const, sinceMs: 6000, source: "status" as const, reason: "will" } };
    // Another gateway's state, or one that went before the child's last message: no effect.
    expect(sweepGatewayPresence(child, { ...gwGone, deviceId: "gw-b" }, 9000)).toBeNull();
    expect(sweepGatewayPresence(child, { ...gwGone, presence: { ...gwGone.presence, sinceMs: 4999 } }, 9000)).toBeNull();
    const off = sweepGatewayPresence(child, gwGone, 9000)!;
    expect(off.state.presence).toEqual({ state: "offline", sinceMs: 9000, source: "gateway-offline", reason: gatewayOfflineReason });
    expect(off.event).toMatchObject({ event: "offline", reason: "gateway offline" });
    expect(sweepGatewayPresence(off.state, gwGone, 9500)).toBeNull(); // once
    // Its next message (through a second gateway) brings it back.
    const back = applyBatch(off.state, [item(via(heartbeatEnvelope(id, 2, 1), "gw-b"), 2, 9800)], lim);
    expect(back.state.presence).toMatchObject({ state: "online", source: "activity" });
    expect(back.state.via).toBe("gw-b");
  });

  it("ignores a will a gateway relays for a child that came through another route since", () => {
    const via = (env: Envelope, gw: string): Envelope => ({ ...env, via: gw });
    let st = applyBatch(emptyDeviceState(id), [item(via(helloEnvelope(id, 1), "gw-a"), 1, 100)], lim).state;
    st = applyBatch(st, [item(via(helloEnvelope(id, 3), "gw-b"), 2, 200)], lim).state;
    const late = applyBatch(st, [item(via(statusEnvelope(id, 2, false), "gw-a"), 3, 300)], lim);
    expect(late.state.presence.state).toBe("online");
    expect(late.state.via).toBe("gw-b");
    // The current gateway's will still counts.
    const own = applyBatch(st, [item(via(statusEnvelope(id, 4, false), "gw-b"), 4, 400)], lim);
    expect(own.state.presence).toMatchObject({ state: "offline", source: "status" });
  });

  it("rejects seq jumps and counter kind changes as dead letters, without applying them", () => {
    let st = applyBatch(emptyDeviceState(id), [item(telemetryEnvelope(id, 500, 3), 1, 1)], lim).state;
    const jump = applyBatch(st, [item(telemetryEnvelope(id, 2 ** 31, 3), 2, 2)], lim);
    expect(jump.rejections).toEqual([{ index: 0, reason: DlqReason.SeqJump, detail: expect.stringMatching(/seq 2147483648/) }]);
    expect(jump.changed).toBe(false);
    st = applyBatch(st, [item(counterEnvelope(id, 501, { a: 1 }), 3, 3)], lim).state;
    const pn = counterEnvelope(id, 502, { a: 1 });
    pn.counters!.counters[0]!.kind = 2; // PN bytes differ; the kind check comes first
    const d = decodeDeviceMessage(`xsfleet.v1.dev.${id}.ctr`, encodeEnvelope(pn), defaultIngestConfig);
    if (d.ok) {
      const r = applyBatch(st, [{ msg: d, streamSeq: 4, timeMs: 4 }], lim);
      expect(r.rejections[0]?.reason).toBe(DlqReason.BadCounter);
    } else {
      expect(d.reason).toBe(DlqReason.BadCounter);
    }
  });
});
