// One simulated acceptor process: the real Acceptor core over the
// simulator's disk (MemoryAcceptorStore), following the product driver's
// discipline (cloud/paxos/acceptor-node.ts): handle a request, put the slot,
// and hold the reply until the fsync that follows it completes (group
// commit: replies gathered while one fsync runs wait for the next). A crash
// loses what was not synced — a random prefix of it reaches the "disk",
// cut anywhere, sometimes followed by garbage — and the restarted acceptor
// reloads through the same replay code the file store uses.
//
// `replyBeforePersist` is the driver bug of the mutation check: replies
// leave at once and the fsync happens later.

import type { Prng } from "../../base";
import type { SimNetwork } from "../../raft/sim";
import type { Acceptor, AcceptorLimits } from "../acceptor";
import { MemoryAcceptorStore } from "../storage";
import { MsgKind, maxBallot } from "../types";
import type { AcceptorId, AcceptorRequest, Ballot, PaxosMessage, RegisterState } from "../types";
import type { PaxosInvariants } from "./invariants";

export interface Envelope {
  readonly from: number;
  readonly to: number;
  readonly msg: PaxosMessage;
}

interface HeldReply {
  readonly env: Envelope;
  /** The promise this reply reveals or relies on. */
  readonly ballot: Ballot;
  /** For Accepted: what was accepted (it counts toward choosing it once the reply leaves). */
  readonly accepted: { readonly ballot: Ballot; readonly state: RegisterState } | null;
}

export type AcceptorFactory = (id: AcceptorId, store: MemoryAcceptorStore, limits: Partial<AcceptorLimits>) => Acceptor;

export class SimAcceptor {
  readonly id: AcceptorId;
  up = true;
  store: MemoryAcceptorStore;
  core: Acceptor;
  diskSlowUntilMs = 0;
  crashes = 0;
  /** Crashes that lost an unsynced write. */
  lostWrites = 0;
  tornRecoveries = 0;
  readonly #rng: Prng;
  readonly #inv: PaxosInvariants;
  readonly #make: AcceptorFactory;
  readonly #limits: Partial<AcceptorLimits>;
  readonly #replyBeforePersist: boolean;
  /** Replies gathered since the running fsync started. */
  #open: HeldReply[] = [];
  #openWrites = 0;
  /** The running fsync: its replies leave when it completes. */
  #syncing: { replies: HeldReply[]; doneAt: number } | null = null;

  constructor(id: AcceptorId, rng: Prng, inv: PaxosInvariants, make: AcceptorFactory, limits: Partial<AcceptorLimits>, replyBeforePersist: boolean) {
    this.id = id;
    this.#rng = rng;
    this.#inv = inv;
    this.#make = make;
    this.#limits = limits;
    this.#replyBeforePersist = replyBeforePersist;
    this.store = new MemoryAcceptorStore();
    this.core = make(id, this.store, limits);
  }

  receive(env: Envelope, nowMs: number, net: SimNetwork<Envelope>): void {
    if (!this.up) return;
    const req = env.msg as AcceptorRequest;
    if (req.kind !== MsgKind.Prepare && req.kind !== MsgKind.Accept) return;
    const before = this.core.slot(req.key);
    const h = this.core.handle(req);
    if (h.write) {
      this.#inv.onWrite(this.id, h.write.key, before, h.write.slot);
      this.store.put(h.write.key, h.write.slot);
      this.#openWrites++;
    }
    const accepted = h.reply.kind === MsgKind.Accepted && req.kind === MsgKind.Accept ? { ballot: req.ballot, state: req.state } : null;
    const reply: HeldReply = { env: { from: this.id, to: env.from, msg: h.reply }, ballot: revealed(req, h.reply), accepted };
    if (this.#replyBeforePersist) {
      this.#send(reply, nowMs, net);
      return;
    }
    this.#open.push(reply);
  }

  /** Advances the disk: starts an fsync for gathered replies, completes a due one. */
  process(nowMs: number, net: SimNetwork<Envelope>): void {
    if (!this.up) return;
    if (this.#syncing && nowMs >= this.#syncing.doneAt) {
      this.store.syncNow();
      for (const r of this.#syncing.replies) this.#send(r, nowMs, net);
      this.#syncing = null;
    }
    if (!this.#syncing && (this.#open.length > 0 || this.#openWrites > 0)) {
      const slow = nowMs < this.diskSlowUntilMs;
      const delay = slow ? this.#rng.range(10, 60) : this.#rng.chance(0.3) ? 0 : this.#rng.range(1, 4);
      this.#syncing = { replies: this.#open, doneAt: nowMs + delay };
      this.#open = [];
      this.#openWrites = 0;
    }
  }

  #send(r: HeldReply, nowMs: number, net: SimNetwork<Envelope>): void {
    if (r.ballot.n > 0) this.#inv.onReplySent(this.id, r.env.msg.key, r.ballot);
    if (r.accepted) this.#inv.onAcceptedReply(this.id, r.env.msg.key, r.accepted.ballot, r.accepted.state);
    net.send(nowMs, r.env);
  }

  crash(): void {
    if (!this.up) return;
    this.up = false;
    this.crashes++;
    const unsynced = this.store.unsyncedBytes;
    const keepBytes = this.#rng.int(unsynced + 1);
    if (keepBytes < unsynced) this.lostWrites++;
    const garbage = this.#rng.chance(0.3) ? randomBytes(this.#rng, this.#rng.range(1, 24)) : undefined;
    this.store = this.store.crash({ keepBytes, ...(garbage ? { garbage } : {}) });
    this.#open = [];
    this.#openWrites = 0;
    this.#syncing = null;
  }

  restart(): void {
    if (this.up) return;
    if (this.store.recoveredTornTail) this.tornRecoveries++;
    this.#inv.onRestart(this.id, this.store.loaded());
    this.core = this.#make(this.id, this.store, this.#limits);
    this.up = true;
  }
}

/** The ballot a reply relies on: the promise it granted, the accept (and next) it made, or the promise it reports. */
function revealed(req: AcceptorRequest, reply: PaxosMessage): Ballot {
  switch (reply.kind) {
    case MsgKind.Promise:
      return req.ballot;
    case MsgKind.Accepted:
      return req.kind === MsgKind.Accept && req.next ? maxBallot(req.ballot, req.next) : req.ballot;
    case MsgKind.Conflict:
      return reply.seen;
    default:
      return { n: 0, p: "" };
  }
}

function randomBytes(rng: Prng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  const zeros = rng.chance(0.5);
  for (let i = 0; i < n; i++) b[i] = zeros ? 0 : rng.int(256);
  return b;
}
