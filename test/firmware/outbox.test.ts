// Outbox: entry states Pending -> Inflight -> Sent -> removed only by a
// receipt (the PUBACK is flow control), resends on receipt timeouts with
// capped, jittered exponential backoff, requeue after a disconnect, bounded
// with counted drops (telemetry first, never acks), oversized messages
// refused, persistence across a restart, settled_below; invariants checked
// after every step of random operation sequences.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MessageClass, Outbox, PushResult, outboxDefaults, type OutboxEntry, type OutboxLimits } from "../../firmware/device/outbox";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { SeededRandom } from "../../firmware/sim/sim-clock";

const T = MessageClass.Telemetry;
const A = MessageClass.Ack;
const O = MessageClass.Other;

const base: OutboxLimits = { ...outboxDefaults, messagesMax: 8, bytesMax: 1_000, inflightMax: 3, receiptTimeoutMs: 1_000, receiptTimeoutCapMs: 8_000 };

function bytes(n: number, fill = 1): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

function outbox(limits: Partial<OutboxLimits> = {}, storage = new MemoryStorage(), seed = 1) {
  return { storage, ob: new Outbox(storage, { ...base, ...limits }, new SeededRandom(seed)) };
}

/** Publishes everything the window allows; returns the entries published. */
function sendAll(ob: Outbox): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  for (let e = ob.nextToSend(); e; e = ob.nextToSend()) {
    ob.markInflight(e);
    out.push(e);
  }
  ob.assertInvariants();
  return out;
}

describe("outbox states", () => {
  it("a PUBACK only frees the inflight slot; the message leaves on a receipt", () => {
    const { ob } = outbox();
    for (let i = 1; i <= 5; i++) ob.push(i, 2, T, bytes(10));
    expect(sendAll(ob).map((e) => e.id)).toEqual([1, 2, 3]);
    expect(ob.inflight).toBe(3);
    expect(ob.puback(2, 0)).toBe(true);
    expect(ob.puback(2, 0)).toBe(false); // already Sent
    expect(ob.inflight).toBe(2);
    expect(ob.ids()).toEqual([1, 2, 3, 4, 5]); // still held
    expect(sendAll(ob).map((e) => e.id)).toEqual([4]);
    expect(ob.stats()).toMatchObject({ depth: 5, inflight: 3, sent: 1, acked: 1 });
    expect(ob.settle(2, 2, false)).toBe(1);
    expect(ob.ids()).toEqual([1, 3, 4, 5]);
    expect(ob.stats()).toMatchObject({ sent: 0, receiptConfirmed: 1, receiptUnknown: 0 });
    ob.assertInvariants();
  });

  it("a receipt removes entries in any state, counts rejections and seqs it does not hold", () => {
    const { ob } = outbox({ messagesMax: 10 });
    for (let i = 1; i <= 6; i++) ob.push(i * 2, 2, T, bytes(4)); // ids 2,4,…,12
    sendAll(ob); // 2, 4, 6 inflight
    ob.puback(2, 0); // 2 Sent; 4, 6 Inflight; 8, 10, 12 Pending
    const removed: number[] = [];
    expect(ob.settle(1, 4, false, (id) => removed.push(id))).toBe(2); // Sent 2 and Inflight 4
    expect(ob.inflight).toBe(1);
    expect(ob.settle(7, 8, true, (id) => removed.push(id))).toBe(1); // Pending 8, rejected
    expect(ob.settle(100, 109, false)).toBe(0);
    expect(removed).toEqual([2, 4, 8]);
    expect(ob.ids()).toEqual([6, 10, 12]);
    expect(ob.stats()).toMatchObject({ receiptConfirmed: 2, receiptRejected: 1, receiptUnknown: 2 + 1 + 10 });
    expect(() => ob.settle(5, 4, false)).toThrow(/bad seq range/);
    expect(() => ob.settle(0, 4, false)).toThrow(/bad seq range/);
    ob.assertInvariants();
    // The inflight slot freed by the receipt is usable; a late PUBACK of a removed entry is ignored.
    expect(ob.puback(4, 0)).toBe(false);
    expect(sendAll(ob).map((e) => e.id)).toEqual([10, 12]);
  });

  it("after a disconnect every Inflight and Sent entry is resent in order", () => {
    const { ob } = outbox();
    for (let i = 1; i <= 4; i++) ob.push(i, 2, T, bytes(10));
    sendAll(ob);
    ob.puback(1, 0);
    ob.puback(3, 0);
    ob.requeue();
    ob.assertInvariants();
    expect(ob.inflight).toBe(0);
    expect(ob.nextDueMs()).toBe(-1);
    expect(sendAll(ob).map((e) => e.id)).toEqual([1, 2, 3]);
    expect(ob.stats().retransmits).toBe(3);
  });
});

describe("receipt timeouts", () => {
  it("resend a Sent entry after uniform[w/2, w], w doubling per silent expiry up to the cap", () => {
    const { ob } = outbox({ inflightMax: 1 });
    ob.push(1, 2, T, bytes(10));
    let now = 0;
    const waits: number[] = [];
    for (let round = 0; round < 6; round++) {
      sendAll(ob);
      ob.puback(1, now);
      const due = ob.nextDueMs();
      waits.push(due - now);
      expect(ob.expire(due - 1)).toBe(0);
      expect(ob.nextToSend()).toBeUndefined();
      expect(ob.expire(due)).toBe(1);
      ob.assertInvariants();
      expect(ob.nextToSend()!.id).toBe(1);
      now = due + 5;
    }
    const windows = [1_000, 2_000, 4_000, 8_000, 8_000, 8_000];
    waits.forEach((w, i) => {
      expect(w).toBeGreaterThanOrEqual(windows[i]! / 2);
      expect(w).toBeLessThanOrEqual(windows[i]!);
    });
    expect(ob.stats().retransmits).toBe(5);
  });

  it("a receipt that removes an entry resets the backoff; one naming nothing held does not", () => {
    const { ob } = outbox({ inflightMax: 1 });
    ob.push(1, 2, T, bytes(10));
    ob.push(2, 2, T, bytes(10));
    for (let round = 0; round < 3; round++) {
      sendAll(ob);
      ob.puback(1, 0);
      ob.expire(ob.nextDueMs());
    }
    ob.settle(50, 60, false); // names nothing held
    sendAll(ob);
    ob.puback(1, 0);
    expect(ob.nextDueMs()).toBeGreaterThanOrEqual(4_000); // window 8000 after three silent expiries
    ob.settle(1, 1, false);
    sendAll(ob);
    ob.puback(2, 0);
    expect(ob.nextDueMs()).toBeLessThanOrEqual(1_000); // back to the first window
  });

  it("jitter spreads the due times of messages PUBACKed together (seeded, reproducible)", () => {
    const dues = (seed: number): number[] => {
      const { ob } = outbox({ messagesMax: 64, inflightMax: 64 }, new MemoryStorage(), seed);
      for (let i = 1; i <= 20; i++) ob.push(i, 2, T, bytes(4));
      sendAll(ob);
      const out: number[] = [];
      for (let i = 1; i <= 20; i++) {
        ob.puback(i, 0);
        out.push(ob.nextDueMs());
        ob.settle(i, i, false);
      }
      return out;
    };
    const a = dues(7);
    expect(new Set(a).size).toBeGreaterThan(10);
    for (const d of a) expect(d >= 500 && d <= 1_000).toBe(true);
    expect(dues(7)).toEqual(a);
  });

  it("the earliest due time is tracked over several Sent entries", () => {
    const { ob } = outbox();
    for (let i = 1; i <= 3; i++) ob.push(i, 2, T, bytes(4));
    sendAll(ob);
    ob.puback(1, 100);
    ob.puback(2, 0);
    const d2 = ob.nextDueMs();
    expect(d2).toBeLessThanOrEqual(1_000);
    ob.settle(2, 2, false);
    expect(ob.nextDueMs()).toBeGreaterThanOrEqual(100 + 500);
    expect(ob.expire(10_000)).toBe(1);
    expect(ob.nextDueMs()).toBe(-1);
  });
});

describe("outbox bounds", () => {
  it("drops the oldest telemetry first, then other messages, never acks; counts every drop", () => {
    const { ob } = outbox({ messagesMax: 4 });
    ob.push(1, 4, A, bytes(5));
    ob.push(2, 2, T, bytes(5));
    ob.push(3, 1, O, bytes(5));
    ob.push(4, 2, T, bytes(5));
    expect(ob.push(5, 2, T, bytes(5))).toBe(PushResult.Accepted);
    expect(ob.ids()).toEqual([1, 3, 4, 5]); // telemetry 2 went first
    expect(ob.push(6, 4, A, bytes(5))).toBe(PushResult.Accepted);
    expect(ob.ids()).toEqual([1, 3, 5, 6]);
    ob.push(7, 4, A, bytes(5));
    ob.push(8, 4, A, bytes(5));
    expect(ob.ids()).toEqual([1, 6, 7, 8]); // telemetry gone, then the "other" one
    expect(ob.push(9, 2, T, bytes(5))).toBe(PushResult.Rejected);
    expect(ob.ids()).toEqual([1, 6, 7, 8]);
    expect(ob.stats()).toMatchObject({ dropped: 4, droppedTelemetry: 3, rejected: 1, oversized: 0 });
  });

  it("enforces bytesMax and refuses a message larger than it", () => {
    const { ob } = outbox({ bytesMax: 100 });
    ob.push(1, 2, T, bytes(40));
    ob.push(2, 2, T, bytes(40));
    ob.push(3, 2, T, bytes(40));
    expect(ob.ids()).toEqual([2, 3]);
    expect(ob.stats().bytes).toBe(80);
    expect(ob.push(4, 2, T, bytes(101))).toBe(PushResult.Rejected);
  });

  it("refuses a message above messageBytesMax (the broker would PUBACK and drop it) without dropping others", () => {
    const { ob, storage } = outbox({ messageBytesMax: 64 });
    ob.push(1, 2, T, bytes(64));
    expect(ob.push(2, 2, T, bytes(65))).toBe(PushResult.Oversized);
    expect(ob.ids()).toEqual([1]);
    expect(storage.keys("o").length).toBe(1);
    expect(ob.stats()).toMatchObject({ oversized: 1, rejected: 1, dropped: 0 });
  });

  it("a dropped inflight message frees its window slot; its late PUBACK is ignored", () => {
    const { ob } = outbox({ messagesMax: 2, inflightMax: 1 });
    ob.push(1, 2, T, bytes(5));
    ob.markInflight(ob.nextToSend()!);
    ob.push(2, 2, T, bytes(5));
    ob.push(3, 2, T, bytes(5)); // drops 1 (inflight)
    expect(ob.inflight).toBe(0);
    expect(ob.puback(1, 0)).toBe(false);
    expect(ob.nextToSend()!.id).toBe(2);
  });

  it("rejects bad limits with the key's name", () => {
    const r = new SeededRandom(1);
    expect(() => new Outbox(new MemoryStorage(), { ...base, receiptTimeoutMs: 0 }, r)).toThrow(/receiptTimeoutMs/);
    expect(() => new Outbox(new MemoryStorage(), { ...base, receiptTimeoutCapMs: 10 }, r)).toThrow(/receiptTimeoutCapMs/);
    expect(() => new Outbox(new MemoryStorage(), { ...base, messageBytesMax: 1.5 }, r)).toThrow(/messageBytesMax/);
  });
});

describe("settled_below", () => {
  it("is the lowest seq held, or the next seq when empty, and never decreases", () => {
    const { ob } = outbox({ messagesMax: 3 });
    expect(ob.settledBelow(7)).toBe(7);
    ob.push(7, 2, T, bytes(4));
    ob.push(8, 4, A, bytes(4));
    expect(ob.settledBelow(9)).toBe(7);
    ob.settle(7, 7, false);
    expect(ob.settledBelow(9)).toBe(8);
    ob.push(9, 2, T, bytes(4));
    ob.push(10, 2, T, bytes(4));
    ob.push(11, 2, T, bytes(4)); // drops telemetry 9: dropped seqs are settled too
    expect(ob.ids()).toEqual([8, 10, 11]);
    expect(ob.settledBelow(12)).toBe(8);
    ob.settle(8, 11, false);
    expect(ob.settledBelow(12)).toBe(12);
  });
});

describe("outbox across a restart", () => {
  it("keeps every unconfirmed message, all Pending again, in order; confirmed ones do not come back", () => {
    const storage = new MemoryStorage();
    const { ob } = outbox({}, storage);
    for (let i = 1; i <= 6; i++) ob.push(i * 10, 2, i % 2 ? T : A, bytes(3 + i, i));
    sendAll(ob);
    ob.puback(10, 0);
    ob.puback(20, 0);
    ob.settle(10, 10, false);
    ob.settle(30, 30, true);
    const again = new Outbox(storage.clone(), base, new SeededRandom(2));
    again.assertInvariants();
    expect(again.ids()).toEqual([20, 40, 50, 60]);
    expect(again.stats()).toMatchObject({ inflight: 0, sent: 0, bytes: 5 + 7 + 8 + 9 });
    const e = again.nextToSend()!;
    expect(e.id).toBe(20); // was Sent: resent first
    expect(e.cls).toBe(A);
    expect([...e.payload]).toEqual([...bytes(5, 2)]);
  });

  it("drops a torn record on load, counted, instead of refusing to boot", () => {
    const storage = new MemoryStorage();
    const { ob } = outbox({}, storage);
    ob.push(1, 2, T, bytes(5));
    ob.push(2, 2, T, bytes(5));
    const key = storage.keys("o").sort()[0]!;
    storage.write(key, new Uint8Array([9]));
    const again = new Outbox(storage, base, new SeededRandom(1));
    expect(again.ids()).toEqual([2]);
    expect(again.stats().dropped).toBe(1);
  });

  it("rewrite replaces stored payloads (persisted) and trims to the limits", () => {
    const storage = new MemoryStorage();
    const { ob } = outbox({ bytesMax: 30 }, storage);
    ob.push(1, 2, T, bytes(10));
    ob.push(2, 4, A, bytes(10));
    ob.rewrite((e) => (e.id === 1 ? undefined : bytes(12, 7)));
    expect(ob.stats().bytes).toBe(22);
    ob.rewrite(() => bytes(16, 8)); // 32 > 30: the telemetry goes
    expect(ob.ids()).toEqual([2]);
    const again = new Outbox(storage.clone(), { ...base, bytesMax: 30 }, new SeededRandom(1));
    expect([...again.nextToSend()!.payload]).toEqual([...bytes(16, 8)]);
    again.assertInvariants();
  });
});

describe("outbox invariants (property)", () => {
  type Op =
    | { k: "push"; cls: 0 | 1 | 2; size: number }
    | { k: "send" }
    | { k: "puback"; pick: number }
    | { k: "receipt"; pick: number; span: number; rejected: boolean }
    | { k: "tick"; ms: number }
    | { k: "disconnect" }
    | { k: "restart" };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant("push" as const), cls: fc.constantFrom(0 as const, 1 as const, 2 as const), size: fc.integer({ min: 1, max: 130 }) }),
    fc.record({ k: fc.constant("send" as const) }),
    fc.record({ k: fc.constant("puback" as const), pick: fc.nat() }),
    fc.record({ k: fc.constant("receipt" as const), pick: fc.nat(), span: fc.integer({ min: 1, max: 4 }), rejected: fc.boolean() }),
    fc.record({ k: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
    fc.record({ k: fc.constant("disconnect" as const) }),
    fc.record({ k: fc.constant("restart" as const) }),
  );

  it("hold after every step: limits, order, counts; no unconfirmed ack lost; only a receipt or a drop removes; settled_below monotone", () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 100 }), fc.integer({ min: 1, max: 1_000 }), (ops, seed) => {
      const limits = { ...base, messagesMax: 6, bytesMax: 400, inflightMax: 2, receiptTimeoutMs: 500, receiptTimeoutCapMs: 2_000, messageBytesMax: 120 };
      let storage = new MemoryStorage();
      const random = new SeededRandom(seed);
      let ob = new Outbox(storage, limits, random);
      let id = 0;
      let now = 0;
      let lastSettled = 0;
      const liveAcks = new Set<number>(); // accepted acks no receipt named yet
      const settledIds = new Set<number>();
      for (const o of ops) {
        const before = new Set(ob.ids());
        let dropsBefore = ob.stats().dropped;
        if (o.k === "push") {
          const r = ob.push(++id, 4, o.cls, bytes(o.size));
          if (o.size > limits.messageBytesMax && r !== PushResult.Oversized) return false;
          if (r === PushResult.Accepted) {
            before.add(id);
            if (o.cls === A) liveAcks.add(id);
          }
        } else if (o.k === "send") {
          const e = ob.nextToSend();
          if (e) ob.markInflight(e);
        } else if (o.k === "puback") {
          const ids = ob.ids();
          if (ids.length > 0) ob.puback(ids[o.pick % ids.length]!, now);
        } else if (o.k === "receipt") {
          const ids = ob.ids();
          const first = ids.length > 0 ? ids[o.pick % ids.length]! : o.pick + 1;
          ob.settle(first, first + o.span - 1, o.rejected, (gone) => {
            settledIds.add(gone);
            liveAcks.delete(gone);
          });
        } else if (o.k === "tick") {
          now += o.ms;
          const due = ob.nextDueMs();
          const n = ob.expire(now);
          if ((due >= 0 && due <= now) !== (n > 0)) return false;
        } else if (o.k === "disconnect") {
          ob.requeue();
          if (ob.inflight !== 0 || ob.nextDueMs() !== -1) return false;
        } else {
          storage = storage.clone(); // what a power cycle keeps
          ob = new Outbox(storage, limits, random);
          dropsBefore = ob.stats().dropped;
        }
        ob.assertInvariants();
        const after = ob.ids();
        // Nothing left except by a receipt or a counted drop.
        const gone = [...before].filter((x) => !after.includes(x) && !settledIds.has(x));
        if (gone.length !== ob.stats().dropped - dropsBefore) return false;
        for (const a of liveAcks) if (!after.includes(a)) return false;
        const sb = ob.settledBelow(id + 1);
        if (sb < lastSettled) return false;
        lastSettled = sb;
      }
      return true;
    }), { numRuns: 300 });
  });
});
