// A tiny synchronous network for the CASPaxos core tests: proposers and
// acceptors in one process, messages held in a queue the test delivers,
// drops or reorders by hand.

import { Acceptor } from "../../../cloud/paxos/acceptor";
import { Proposer, type Change, type Completed, type OpOutcome, type ProposerConfig } from "../../../cloud/paxos/proposer";
import type { AcceptorId, AcceptorReply, AcceptorRequest } from "../../../cloud/paxos/types";

export type InFlight =
  | { readonly dir: "req"; readonly from: string; readonly to: AcceptorId; readonly msg: AcceptorRequest }
  | { readonly dir: "reply"; readonly from: AcceptorId; readonly to: string; readonly msg: AcceptorReply };

export class Net {
  readonly acceptors = new Map<AcceptorId, Acceptor>();
  readonly proposers = new Map<string, Proposer>();
  readonly queue: InFlight[] = [];
  readonly done = new Map<string, Completed[]>();
  /** Acceptors that are down: messages to and from them vanish. */
  readonly down = new Set<AcceptorId>();

  constructor(acceptorIds: readonly AcceptorId[]) {
    for (const id of acceptorIds) this.acceptors.set(id, new Acceptor(id));
  }

  proposer(id: string, opts: Partial<ProposerConfig> = {}): Proposer {
    let seed = 7;
    const p = new Proposer({ id, acceptors: [...this.acceptors.keys()], random: () => ((seed = (seed * 48271) % 2147483647) / 2147483647), ...opts });
    this.proposers.set(id, p);
    this.done.set(id, []);
    return p;
  }

  submit<R>(p: Proposer, key: string, change: Change<R>): number {
    const op = p.submit(key, change);
    this.collect(p);
    return op;
  }

  /** Moves a proposer's output into the queue / done list. */
  collect(p: Proposer): void {
    const { messages, completed } = p.drain();
    for (const m of messages) this.queue.push({ dir: "req", from: p.id, to: m.to, msg: m.msg });
    this.done.get(p.id)!.push(...completed);
  }

  /** Delivers one queued message (by index), collecting what it causes. */
  deliver(i = 0): void {
    const [m] = this.queue.splice(i, 1);
    if (!m) throw new Error("nothing to deliver");
    if (m.dir === "req") {
      if (this.down.has(m.to)) return;
      const h = this.acceptors.get(m.to)!.handle(m.msg);
      this.queue.push({ dir: "reply", from: m.to, to: m.from, msg: h.reply });
    } else {
      if (this.down.has(m.from)) return;
      const p = this.proposers.get(m.to)!;
      p.step(m.from, m.msg);
      this.collect(p);
    }
  }

  /** Delivers everything, in order, until nothing is in flight. */
  run(limit = 10_000): void {
    for (let i = 0; this.queue.length > 0; i++) {
      if (i > limit) throw new Error("network did not settle");
      this.deliver(0);
    }
  }

  tick(p: Proposer, n = 1): void {
    for (let i = 0; i < n; i++) p.tick();
    this.collect(p);
  }

  outcome(p: Proposer, op: number): OpOutcome<unknown> | undefined {
    return this.done.get(p.id)!.find((c) => c.op === op)?.outcome;
  }

  /** Runs until op completes, ticking when the network is quiet. */
  settle(p: Proposer, op: number, ticksMax = 10_000): OpOutcome<unknown> {
    for (let t = 0; t < ticksMax; t++) {
      this.run();
      const o = this.outcome(p, op);
      if (o) return o;
      this.tick(p);
    }
    throw new Error(`op ${op} of ${p.id} did not complete`);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Writes `text`; result: the version it replaced. */
export const setText = (text: string): Change<number> => (cur) => ({ write: true, data: enc.encode(text), result: cur.version });
/** Reads: result is the text (null if empty). */
export const readText: Change<string | null> = (cur) => ({ write: false, result: cur.data === null ? null : dec.decode(cur.data) });
/** Appends to the text. */
export const appendText = (suffix: string): Change<string> => (cur) => {
  const next = (cur.data === null ? "" : dec.decode(cur.data)) + suffix;
  return { write: true, data: enc.encode(next), result: next };
};
