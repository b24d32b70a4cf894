// Outbox: bounded with counted drops (telemetry first, never acks), in-order
// with a bounded inflight window, removal only on PUBACK, and persistence:
// after a restart nothing acked comes back and nothing unacked is lost.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MessageClass, Outbox, PushResult, type OutboxLimits } from "../../firmware/device/outbox";
import { MemoryStorage } from "../../firmware/sim/memory-storage";

const T = MessageClass.Telemetry;
const A = MessageClass.Ack;
const O = MessageClass.Other;

function bytes(n: number, fill = 1): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

function outbox(limits: Partial<OutboxLimits> = {}, storage = new MemoryStorage()) {
  return { storage, ob: new Outbox(storage, { messagesMax: 8, bytesMax: 1_000, inflightMax: 3, ...limits }) };
}

describe("outbox", () => {
  it("sends in order within the inflight window and removes only on PUBACK", () => {
    const { ob } = outbox();
    for (let i = 1; i <= 5; i++) ob.push(i, 2, T, bytes(10));
    const sent: number[] = [];
    for (let e = ob.nextToSend(); e; e = ob.nextToSend()) {
      ob.markInflight(e);
      sent.push(e.id);
    }
    expect(sent).toEqual([1, 2, 3]);
    expect(ob.inflight).toBe(3);
    expect(ob.ack(2)).toBe(true);
    expect(ob.ack(2)).toBe(false);
    expect(ob.nextToSend()!.id).toBe(4);
    expect(ob.ids()).toEqual([1, 3, 4, 5]);
  });

  it("after a disconnect resends the unacked messages in order", () => {
    const { ob } = outbox();
    for (let i = 1; i <= 4; i++) ob.push(i, 2, T, bytes(10));
    for (let e = ob.nextToSend(); e; e = ob.nextToSend()) ob.markInflight(e);
    ob.ack(1);
    ob.resetInflight();
    expect(ob.inflight).toBe(0);
    const again: number[] = [];
    for (let e = ob.nextToSend(); e; e = ob.nextToSend()) {
      ob.markInflight(e);
      again.push(e.id);
    }
    expect(again).toEqual([2, 3, 4]);
  });

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
    const s = ob.stats();
    expect(s.dropped).toBe(4);
    expect(s.droppedTelemetry).toBe(3);
    expect(s.rejected).toBe(1);
  });

  it("enforces bytesMax and rejects a message larger than it", () => {
    const { ob } = outbox({ bytesMax: 100 });
    ob.push(1, 2, T, bytes(40));
    ob.push(2, 2, T, bytes(40));
    ob.push(3, 2, T, bytes(40));
    expect(ob.ids()).toEqual([2, 3]);
    expect(ob.stats().bytes).toBe(80);
    expect(ob.push(4, 2, T, bytes(101))).toBe(PushResult.Rejected);
  });

  it("a dropped inflight message frees its window slot; its late PUBACK is ignored", () => {
    const { ob } = outbox({ messagesMax: 2, inflightMax: 1 });
    ob.push(1, 2, T, bytes(5));
    ob.markInflight(ob.nextToSend()!);
    ob.push(2, 2, T, bytes(5));
    ob.push(3, 2, T, bytes(5)); // drops 1 (inflight)
    expect(ob.inflight).toBe(0);
    expect(ob.ack(1)).toBe(false);
    expect(ob.nextToSend()!.id).toBe(2);
  });

  it("survives a restart: unacked messages come back in order, acked ones do not", () => {
    const storage = new MemoryStorage();
    const { ob } = outbox({}, storage);
    for (let i = 1; i <= 6; i++) ob.push(i * 10, 2, i % 2 ? T : A, bytes(3 + i, i));
    for (let e = ob.nextToSend(); e; e = ob.nextToSend()) ob.markInflight(e);
    ob.ack(10);
    ob.ack(30);
    const again = new Outbox(storage.clone(), { messagesMax: 8, bytesMax: 1_000, inflightMax: 3 });
    expect(again.ids()).toEqual([20, 40, 50, 60]);
    const e = again.nextToSend()!;
    expect(e.cls).toBe(A);
    expect([...e.payload]).toEqual([...bytes(5, 2)]);
    expect(again.stats().bytes).toBe(5 + 7 + 8 + 9);
  });

  it("drops a torn record on load, counted, instead of refusing to boot", () => {
    const storage = new MemoryStorage();
    const { ob } = outbox({}, storage);
    ob.push(1, 2, T, bytes(5));
    ob.push(2, 2, T, bytes(5));
    const key = storage.keys("o").sort()[0]!;
    storage.write(key, new Uint8Array([9]));
    const again = new Outbox(storage, { messagesMax: 8, bytesMax: 1_000, inflightMax: 3 });
    expect(again.ids()).toEqual([2]);
    expect(again.stats().dropped).toBe(1);
  });

  it("keeps its limits and loses no unacked ack under any sequence of operations (property)", () => {
    type Op = { k: "push"; cls: 0 | 1 | 2; size: number } | { k: "send" } | { k: "ack"; pick: number } | { k: "drop" } | { k: "restart" };
    const op = fc.oneof(
      fc.record({ k: fc.constant("push" as const), cls: fc.constantFrom(0 as const, 1 as const, 2 as const), size: fc.integer({ min: 1, max: 120 }) }),
      fc.record({ k: fc.constant("send" as const) }),
      fc.record({ k: fc.constant("ack" as const), pick: fc.nat() }),
      fc.record({ k: fc.constant("drop" as const) }),
      fc.record({ k: fc.constant("restart" as const) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops: Op[]) => {
      const limits = { messagesMax: 6, bytesMax: 400, inflightMax: 2 };
      const storage = new MemoryStorage();
      let ob = new Outbox(storage, limits);
      let id = 0;
      const liveAcks = new Set<number>(); // accepted acks not yet PUBACKed
      for (const o of ops) {
        if (o.k === "push") {
          const r = ob.push(++id, 4, o.cls, bytes(o.size));
          if (r === PushResult.Accepted && o.cls === A) liveAcks.add(id);
        } else if (o.k === "send") {
          const e = ob.nextToSend();
          if (e) ob.markInflight(e);
        } else if (o.k === "ack") {
          const ids = ob.ids();
          if (ids.length > 0) {
            const victim = ids[o.pick % ids.length]!;
            ob.ack(victim);
            liveAcks.delete(victim);
          }
        } else if (o.k === "drop") {
          ob.resetInflight();
        } else {
          ob = new Outbox(storage, limits);
        }
        const s = ob.stats();
        if (s.depth > limits.messagesMax || s.bytes > limits.bytesMax || s.inflight > limits.inflightMax) return false;
        const ids = ob.ids();
        for (let i = 1; i < ids.length; i++) if (ids[i]! <= ids[i - 1]!) return false;
        for (const a of liveAcks) if (!ids.includes(a)) return false;
      }
      return true;
    }), { numRuns: 300 });
  });
});
