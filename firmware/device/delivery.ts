// End-to-end delivery of the outbox for one device (docs/delivery.md):
// publishes Pending messages in seq order at QoS 1 within the inflight
// window, turns a PUBACK into Sent (flow control only: nats-server 2.9
// PUBACKs messages its streams can still lose), forgets messages only when a
// receipt names them, resends those whose receipt does not come in time
// (one timer, armed for the earliest due entry), and requeues everything
// after a disconnect. The outbox (outbox.ts) holds the state and the rules;
// this wires it to the session, the timers and the counters.
//
// Socket callbacks do no work here: a PUBACK schedules the pump on the next
// timer turn; receipts arrive through the runtime's downlink queue.
import { decodeEnvelope, encodeEnvelope, type Receipt } from "../../shared/proto/xsfleet.gen";
import type { Uplink } from "../../shared/topics";
import type { Platform, TimerId } from "../platform";
import { LogLevel } from "../platform";
import { CounterName, type DeviceCounters } from "./counters";
import { PushResult, type MessageClass, type Outbox } from "./outbox";
import { ReceiptVerdict, checkReceipt } from "./receipts";
import type { PersistentSequence } from "./sequence";
import type { MqttSession } from "./session";

export type DeliveryEvent =
  | { type: "published"; kind: Uplink; seq: number; bytes: number }
  /** PUBACK: flow control only; the message stays until a receipt names it. */
  | { type: "acked"; seq: number }
  /** A receipt confirmed (or rejected) an outbox message: the device forgot it. */
  | { type: "confirmed"; seq: number }
  | { type: "rejected"; seq: number }
  /** Outbox drops plus refusals so far (emitted when it changes). */
  | { type: "dropped"; count: number };

export interface DeliveryParts {
  platform: Platform;
  session: MqttSession;
  outbox: Outbox;
  /** The envelope seq (its epoch is the one receipts must carry). */
  seq: PersistentSequence;
  counters: DeviceCounters;
  /** Topic and uplink kind per outbox kind index. */
  topics: readonly string[];
  kinds: readonly Uplink[];
  emit: ((e: DeliveryEvent) => void) | undefined;
}

export class Delivery {
  readonly #p: Platform;
  readonly #session: MqttSession;
  readonly #outbox: Outbox;
  readonly #seq: PersistentSequence;
  readonly #counters: DeviceCounters;
  readonly #topics: readonly string[];
  readonly #kinds: readonly Uplink[];
  readonly #emit: ((e: DeliveryEvent) => void) | undefined;
  readonly #emitConfirmed: ((seq: number) => void) | undefined;
  readonly #emitRejected: ((seq: number) => void) | undefined;
  #pumpTimer: TimerId | undefined;
  #receiptTimer: TimerId | undefined;
  /** Due time the receipt timer is armed for; -1 when none. */
  #receiptDueMs = -1;
  #halted = false;
  #published = 0;
  #lastDropped = 0;

  constructor(parts: DeliveryParts) {
    this.#p = parts.platform;
    this.#session = parts.session;
    this.#outbox = parts.outbox;
    this.#seq = parts.seq;
    this.#counters = parts.counters;
    this.#topics = parts.topics;
    this.#kinds = parts.kinds;
    const emit = parts.emit;
    this.#emit = emit;
    this.#emitConfirmed = emit === undefined ? undefined : (seq) => emit({ type: "confirmed", seq });
    this.#emitRejected = emit === undefined ? undefined : (seq) => emit({ type: "rejected", seq });
  }

  /** Outbox publications so far (first sends and resends). */
  get published(): number {
    return this.#published;
  }

  /** settled_below for the envelope of `seq` (already taken): never above `seq` itself. */
  settledBelow(seq: number): number {
    return this.#outbox.settledBelow(seq);
  }

  /** Queues an encoded envelope (persisted), counts drops and refusals, schedules the pump. */
  enqueue(seq: number, kind: number, cls: MessageClass, bytes: Uint8Array): void {
    const ob = this.#outbox;
    const before = ob.stats();
    const r = ob.push(seq, kind, cls, bytes);
    const after = ob.stats();
    const c = this.#counters;
    c.increment(CounterName.OutboxDropped, after.dropped - before.dropped);
    if (r === PushResult.Rejected) c.increment(CounterName.OutboxRejected);
    if (r === PushResult.Oversized) {
      c.increment(CounterName.OutboxOversized);
      this.#p.log(LogLevel.Error, `message ${seq} of ${bytes.length} bytes is over messageBytesMax: not sent`);
    }
    const total = after.dropped + after.rejected;
    if (total !== this.#lastDropped) {
      this.#lastDropped = total;
      if (this.#emit !== undefined) this.#emit({ type: "dropped", count: total });
    }
    this.schedulePump();
  }

  schedulePump(): void {
    if (this.#pumpTimer !== undefined || this.#halted) return;
    this.#pumpTimer = this.#p.timers.set(() => this.pump(), 0);
  }

  /** Publishes Pending messages in order while the inflight window has room. */
  pump(): void {
    this.#pumpTimer = undefined;
    const session = this.#session;
    if (!session.connected) return;
    const gen = session.generation;
    const ob = this.#outbox;
    for (let e = ob.nextToSend(); e !== undefined; e = ob.nextToSend()) {
      // A publish can end the connection (a link send that fails closes it): the rest waits for the next
      // connect, which requeues; marking them inflight now would strand them there.
      if (!session.connected || session.generation !== gen) return;
      const id = e.id;
      ob.markInflight(e);
      if (e.sends > 1) this.#counters.increment(CounterName.Retransmits);
      if (!session.publish(this.#topics[e.kind]!, e.payload, 1, false, (err) => this.#onPuback(gen, id, err))) {
        ob.requeue(); // the session went down under us: everything unconfirmed goes out again on the next connect
        return;
      }
      this.#published++;
      this.#counters.increment(CounterName.MessagesSent);
      if (this.#emit !== undefined) this.#emit({ type: "published", kind: this.#kinds[e.kind]!, seq: id, bytes: e.payload.length });
    }
  }

  /** A rcpt downlink (decoded, on a timer turn): forgets what it names; a bad one is refused whole. */
  receipt(r: Receipt): void {
    const c = this.#counters;
    const check = checkReceipt(r, this.#seq.epoch, this.#seq.peek());
    if (check.verdict !== ReceiptVerdict.Apply) {
      c.increment(check.verdict === ReceiptVerdict.OtherEpoch ? CounterName.ReceiptsOtherEpoch : CounterName.ReceiptsBad);
      if (check.verdict === ReceiptVerdict.Bad) this.#p.log(LogLevel.Warn, `bad receipt: ${check.reason}`);
      return;
    }
    const ob = this.#outbox;
    let confirmed = 0;
    let rejected = 0;
    let named = 0;
    for (const g of r.confirmed) {
      confirmed += ob.settle(g.first, g.last, false, this.#emitConfirmed);
      named += g.last - g.first + 1;
    }
    for (const g of r.rejected) {
      rejected += ob.settle(g.first, g.last, true, this.#emitRejected);
      named += g.last - g.first + 1;
    }
    c.increment(CounterName.ReceiptsConfirmed, confirmed);
    c.increment(CounterName.ReceiptsRejected, rejected);
    c.increment(CounterName.ReceiptsUnknown, named - confirmed - rejected);
    if (rejected > 0) this.#p.log(LogLevel.Warn, `the cloud rejected ${rejected} message(s) (dead-lettered)`);
    this.#armReceiptTimer();
    this.schedulePump(); // a receipt may have freed inflight slots
  }

  /** The connection ended: receipts sent meanwhile are lost (QoS 0), so everything unconfirmed goes out again. */
  disconnected(): void {
    this.#outbox.requeue();
    this.#armReceiptTimer();
  }

  halt(): void {
    this.#halted = true;
    const t = this.#p.timers;
    if (this.#pumpTimer !== undefined) t.clear(this.#pumpTimer);
    if (this.#receiptTimer !== undefined) t.clear(this.#receiptTimer);
    this.#pumpTimer = this.#receiptTimer = undefined;
    this.#receiptDueMs = -1;
  }

  /**
   * First boot of this firmware on the flash of firmware without epochs: the
   * stored envelopes get the new epoch (seqs continue, so the cloud can carry
   * its dedup record over from epoch 0). A fresh flash has no entries.
   */
  restamp(): void {
    const epoch = this.#seq.epoch;
    const settledBelow = this.#outbox.settledBelow(this.#seq.peek());
    this.#outbox.rewrite((e) => {
      try {
        const env = decodeEnvelope(e.payload);
        if (env.epoch === epoch) return undefined;
        env.epoch = epoch;
        env.settledBelow = settledBelow;
        return encodeEnvelope(env);
      } catch {
        return undefined; // not an envelope we can read: sent as it is (the cloud dead-letters it)
      }
    });
  }

  #onPuback(gen: number, id: number, err: Error | undefined): void {
    if (err || gen !== this.#session.generation) return; // a disconnect requeued it; resent later
    if (this.#outbox.puback(id, this.#p.clock.uptimeMs())) {
      this.#counters.increment(CounterName.MessagesAcked);
      if (this.#emit !== undefined) this.#emit({ type: "acked", seq: id });
      this.#armReceiptTimer();
    }
    this.schedulePump();
  }

  /** Keeps one timer armed for the earliest receipt timeout. */
  #armReceiptTimer(): void {
    const due = this.#outbox.nextDueMs();
    if (due === this.#receiptDueMs) return;
    const t = this.#p.timers;
    if (this.#receiptTimer !== undefined) t.clear(this.#receiptTimer);
    this.#receiptTimer = undefined;
    this.#receiptDueMs = -1;
    if (due < 0 || this.#halted) return;
    this.#receiptDueMs = due;
    const wait = due - this.#p.clock.uptimeMs();
    this.#receiptTimer = t.set(() => this.#onReceiptTimeout(), wait > 0 ? wait : 0);
  }

  /** No receipt in time: those messages go out again, in seq order. */
  #onReceiptTimeout(): void {
    this.#receiptTimer = undefined;
    this.#receiptDueMs = -1;
    if (this.#outbox.expire(this.#p.clock.uptimeMs()) > 0) this.schedulePump();
    this.#armReceiptTimer();
  }
}
