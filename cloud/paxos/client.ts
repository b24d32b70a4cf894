// PaxosClient: the proposer any cloud process uses. It drives the pure
// Proposer core with real time (a tick every tickMs while operations are
// pending) and a transport to the acceptors — NATS in the product
// (NatsProposerTransport: requests to `xsfleet.paxos.<group>.<id>`, replies
// on this client's own inbox), an in-process one in unit tests.
//
//   const c = PaxosClient.overNats(nc, { group: "registers", acceptors: [1, 2, 3], name: "node-1" });
//   const o = await c.change("config/x", (cur) => ({ write: true, data, result: cur.version }));
//
// change() resolves with a typed outcome, never throws for expected
// failures (unavailable: no majority within attemptsMax attempts; applied
// "unknown" if an accept left). Each client is one proposer incarnation with
// a fresh random id suffix: a restarted process never reuses a ballot.
// Inbound frames are only queued in the socket callback (bounded) and
// handled from the event loop.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createInbox, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { paxosAcceptorSubject, paxosRepliesSubject, paxosReplySubject } from "../subjects";
import { CodecError, decodeFrame, encodeFrames } from "./codec";
import { Proposer, type Change, type OpOutcome, type ProposerLimits } from "./proposer";
import { MsgKind, assert, type AcceptorId, type AcceptorReply, type AcceptorRequest, type RegisterState } from "./types";

/** How a proposer reaches the acceptors. */
export interface ProposerTransport {
  /** Starts delivering replies (from the event loop, never inside a socket callback). */
  start(deliver: (from: AcceptorId, replies: readonly AcceptorReply[]) => void): void;
  send(to: AcceptorId, msgs: readonly AcceptorRequest[]): void;
  close(): Promise<void>;
}

export const CLIENT_LIMITS = {
  /** Reply frames waiting to be handled; beyond this they are dropped (the proposer times out and retries). */
  inboxFramesMax: 8192,
} as const;

export interface NatsTransportStats {
  framesSent: number;
  framesReceived: number;
  decodeErrors: number;
  inboxDropped: number;
}

export class NatsProposerTransport implements ProposerTransport {
  readonly stats: NatsTransportStats = { framesSent: 0, framesReceived: 0, decodeErrors: 0, inboxDropped: 0 };
  readonly #nc: NatsConnection;
  readonly #group: string;
  readonly #inbox = createInbox();
  readonly #queue: { from: AcceptorId; data: Uint8Array }[] = [];
  #sub: Subscription | undefined;
  #scheduled = false;

  constructor(nc: NatsConnection, group: string) {
    paxosAcceptorSubject(group, 1); // validates the group
    this.#nc = nc;
    this.#group = group;
  }

  start(deliver: (from: AcceptorId, replies: readonly AcceptorReply[]) => void): void {
    const prefix = `${this.#inbox}.`;
    this.#sub = this.#nc.subscribe(paxosRepliesSubject(this.#inbox), {
      callback: (err, msg) => {
        if (err) return;
        this.stats.framesReceived++;
        const from = Number(msg.subject.slice(prefix.length));
        if (!Number.isSafeInteger(from) || from < 1 || this.#queue.length >= CLIENT_LIMITS.inboxFramesMax) {
          this.stats.inboxDropped++;
          return;
        }
        this.#queue.push({ from, data: msg.data });
        if (!this.#scheduled) {
          this.#scheduled = true;
          setImmediate(() => this.#drain(deliver));
        }
      },
    });
  }

  #drain(deliver: (from: AcceptorId, replies: readonly AcceptorReply[]) => void): void {
    this.#scheduled = false;
    for (const f of this.#queue.splice(0)) {
      let msgs;
      try {
        msgs = decodeFrame(f.data);
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        this.stats.decodeErrors++;
        continue;
      }
      const replies = msgs.filter((m): m is AcceptorReply => m.kind !== MsgKind.Prepare && m.kind !== MsgKind.Accept);
      if (replies.length !== msgs.length) this.stats.decodeErrors++;
      deliver(f.from, replies);
    }
  }

  send(to: AcceptorId, msgs: readonly AcceptorRequest[]): void {
    const subject = paxosAcceptorSubject(this.#group, to);
    const reply = paxosReplySubject(this.#inbox, to);
    for (const frame of encodeFrames(msgs)) {
      try {
        this.#nc.publish(subject, frame, { reply });
        this.stats.framesSent++;
      } catch {
        // Closed or draining connection: lost like any message; the proposer retries.
      }
    }
  }

  async close(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#queue.length = 0;
  }
}

export interface PaxosClientOptions {
  readonly acceptors: readonly AcceptorId[];
  /** Proposer id prefix (default host:pid); a random suffix makes each client a new incarnation. */
  readonly name?: string;
  /** Time resolution of timeouts and backoff. */
  readonly tickMs?: number;
  /** How long one phase waits for a majority. */
  readonly attemptTimeoutMs?: number;
  readonly attemptsMax?: number;
  /** Upper bound of the jittered backoff after a conflict. */
  readonly backoffMaxMs?: number;
  readonly oneRoundTrip?: boolean;
  readonly opsMax?: number;
}

export const PAXOS_CLIENT_DEFAULTS = {
  tickMs: 5,
  attemptTimeoutMs: 1_000,
  attemptsMax: 20,
  backoffMaxMs: 160,
} as const;

export class PaxosClient {
  readonly id: string;
  readonly proposer: Proposer;
  readonly transport: ProposerTransport;
  readonly tickMs: number;
  readonly #waiting = new Map<number, (o: OpOutcome<unknown>) => void>();
  #timer: NodeJS.Timeout | undefined;
  #flushQueued = false;
  #closed = false;

  constructor(transport: ProposerTransport, opts: PaxosClientOptions) {
    this.tickMs = opts.tickMs ?? PAXOS_CLIENT_DEFAULTS.tickMs;
    assert(Number.isSafeInteger(this.tickMs) && this.tickMs >= 1, `tickMs must be a positive integer, got ${this.tickMs}`);
    const ticks = (ms: number): number => Math.max(1, Math.ceil(ms / this.tickMs));
    this.id = `${opts.name ?? `${hostname()}:${process.pid}`}.${randomUUID().slice(0, 8)}`;
    const limits: Partial<ProposerLimits> = {
      attemptTimeoutTicks: ticks(opts.attemptTimeoutMs ?? PAXOS_CLIENT_DEFAULTS.attemptTimeoutMs),
      attemptsMax: opts.attemptsMax ?? PAXOS_CLIENT_DEFAULTS.attemptsMax,
      backoffMinTicks: 1,
      backoffMaxTicks: ticks(opts.backoffMaxMs ?? PAXOS_CLIENT_DEFAULTS.backoffMaxMs),
      ...(opts.opsMax !== undefined ? { opsMax: opts.opsMax } : {}),
    };
    this.proposer = new Proposer({ id: this.id, acceptors: opts.acceptors, random: Math.random, oneRoundTrip: opts.oneRoundTrip ?? true, limits });
    this.transport = transport;
    transport.start((from, replies) => {
      for (const r of replies) this.proposer.step(from, r);
      this.#flush();
    });
  }

  static overNats(nc: NatsConnection, opts: PaxosClientOptions & { readonly group: string }): PaxosClient {
    return new PaxosClient(new NatsProposerTransport(nc, opts.group), opts);
  }

  /** Runs `change` on the register `key`; resolves with its outcome. */
  change<R>(key: string, change: Change<R>): Promise<OpOutcome<R>> {
    if (this.#closed) return Promise.reject(new Error(`paxos client ${this.id} is closed`));
    return new Promise<OpOutcome<R>>((resolve) => {
      const op = this.proposer.submit(key, change);
      this.#waiting.set(op, resolve as (o: OpOutcome<unknown>) => void);
      // Operations submitted in the same turn of the event loop share one frame per acceptor.
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => {
          this.#flushQueued = false;
          this.#flush();
        });
      }
      this.#armTimer();
    });
  }

  /** A linearizable read (the state is written back unchanged, so it is chosen). */
  read(key: string): Promise<OpOutcome<RegisterState>> {
    return this.change(key, (cur) => ({ write: false, result: cur }));
  }

  get pending(): number {
    return this.#waiting.size;
  }

  /** Fails operations still pending (outcome unknown) and stops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.transport.close();
    for (const [, resolve] of this.#waiting) {
      resolve({ ok: false, error: "unavailable", applied: "unknown", attempts: 0, message: `paxos client ${this.id} closed` });
    }
    this.#waiting.clear();
  }

  #flush(): void {
    if (!this.proposer.hasOutput()) return;
    const { messages, completed } = this.proposer.drain();
    const byAcceptor = new Map<AcceptorId, AcceptorRequest[]>();
    for (const m of messages) {
      const list = byAcceptor.get(m.to);
      if (list) list.push(m.msg);
      else byAcceptor.set(m.to, [m.msg]);
    }
    for (const [to, msgs] of byAcceptor) this.transport.send(to, msgs);
    for (const c of completed) {
      const resolve = this.#waiting.get(c.op);
      this.#waiting.delete(c.op);
      resolve?.(c.outcome);
    }
    if (this.#waiting.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #armTimer(): void {
    if (this.#timer || this.#waiting.size === 0) return;
    this.#timer = setInterval(() => {
      this.proposer.tick();
      this.#flush();
    }, this.tickMs);
  }
}
