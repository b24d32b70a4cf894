// Deterministic simulation of CASPaxos (VOPR style): 3 or 5 acceptors on
// the simulator's disk, 2–4 clients each with its own proposer (no leader),
// and a network (cloud/raft/sim SimNetwork) that drops, duplicates, delays
// and reorders messages and can be partitioned, one way or both. A nemesis
// crashes acceptors (power loss with torn writes), restarts them, slows
// their disks, partitions and restarts clients (a new proposer
// incarnation). One seed determines everything.
//
// Checked after every step: the invariants of invariants.ts. At the end:
// liveness (after the faults stop, every operation completes and final
// reads succeed) and linearizability of the recorded client history
// (get/put/cas per key, exactly-once writes through kv-register.ts) with
// the WGL checker (cloud/check/lincheck).

import { Prng } from "../../base";
import { CheckResult, checkOperations, kvModel, type KvInput, type KvOperation, type KvOutput } from "../../check/lincheck";
import { InvariantViolation, SimNetwork } from "../../raft/sim";
import { Acceptor } from "../acceptor";
import { decodeFrame, encodeFrames } from "../codec";
import { Proposer, type Completed, type ProposerConfig, type ProposerLimits } from "../proposer";
import type { AcceptorReply, PaxosMessage } from "../types";
import { SimAcceptor, type AcceptorFactory, type Envelope } from "./acceptor-node";
import { PaxosInvariants } from "./invariants";
import { kvChange } from "./kv-register";
import { AcceptorIgnoringPromise, Mutation, ProposerAcceptingOne, ProposerTakingFirstPromise } from "./mutations";

export interface PaxosSimConfig {
  readonly acceptors: 3 | 5;
  readonly clients: number;
  readonly oneRoundTrip: boolean;
  /** Every message goes through the binary codec (encode, decode). */
  readonly wire: boolean;
  readonly chaosMs: number;
  readonly quietMs: number;
  readonly mutation: Mutation | null;
}

export interface PaxosSimResult {
  readonly seed: number;
  readonly config: PaxosSimConfig;
  readonly ok: boolean;
  readonly error?: string;
  readonly stats: Record<string, number>;
}

const TICK_MS = 5;
const KEYS = ["a", "b", "c"] as const;
const CLIENT_ADDR_BASE = 100;
const CHECKER_CLIENT_ID = 999;
/** Linearizability search budget per key; beyond it the run counts as "unknown", not failed. */
const LINCHECK_STEPS_MAX = 400_000;
const PROPOSER_LIMITS: Partial<ProposerLimits> = { attemptTimeoutTicks: 10, backoffMinTicks: 1, backoffMaxTicks: 16, attemptsMax: 10, cachedKeysMax: 2 };

export function configForSeed(seed: number, acceptors: 3 | 5, mutation: Mutation | null = null): PaxosSimConfig {
  const r = new Prng(seed ^ 0xca5);
  return {
    acceptors,
    clients: r.range(2, 4),
    oneRoundTrip: r.chance(0.6),
    wire: r.chance(0.3),
    chaosMs: 700,
    quietMs: 1500,
    mutation,
  };
}

interface PendingOp {
  readonly opId: number;
  readonly seq: number;
  readonly input: KvInput;
  readonly callTime: number;
}

class SimClient {
  readonly id: number;
  /** Network address of the current incarnation (a restarted process has a new inbox). */
  addr = 0;
  incarnation = 0;
  proposer!: Proposer;
  seq = 0;
  pending: PendingOp | null = null;
  nextActionAt = 0;
  readonly tickPhase: number;
  readonly lastSeen = new Map<string, string | null>();
  constructor(id: number, tickPhase: number) {
    this.id = id;
    this.tickPhase = tickPhase;
  }
}

export class PaxosSimulation {
  readonly seed: number;
  readonly cfg: PaxosSimConfig;
  readonly rng: Prng;
  readonly inv: PaxosInvariants;
  readonly net: SimNetwork<Envelope>;
  readonly acceptors = new Map<number, SimAcceptor>();
  readonly clients: SimClient[] = [];
  readonly history: KvOperation[] = [];
  now = 0;
  #nextNemesisAt = 50;
  #checker: SimClient;
  #finalReads: Map<string, PendingOp> | null = null;
  readonly #byAddr = new Map<number, SimClient>();
  #nextAddr = CLIENT_ADDR_BASE;
  stats: Record<string, number> = { ops: 0, opsUnknown: 0, opsNotApplied: 0, crashes: 0, partitions: 0, clientRestarts: 0 };

  constructor(seed: number, cfg: PaxosSimConfig) {
    this.seed = seed;
    this.cfg = cfg;
    this.rng = new Prng(seed);
    this.inv = new PaxosInvariants(cfg.acceptors);
    this.net = new SimNetwork<Envelope>(this.rng.fork(), { dropRate: 0.02, duplicateRate: 0.02, delayMinMs: 1, delayMaxMs: 12 });
    const make: AcceptorFactory = cfg.mutation === Mutation.IgnorePromise
      ? (id, store, limits) => new AcceptorIgnoringPromise(id, store.loaded(), limits)
      : (id, store, limits) => new Acceptor(id, store.loaded(), limits);
    for (let id = 1; id <= cfg.acceptors; id++) {
      this.acceptors.set(id, new SimAcceptor(id, this.rng.fork(), this.inv, make, { keysMax: 64 }, cfg.mutation === Mutation.ReplyBeforePersist));
    }
    for (let c = 1; c <= cfg.clients; c++) {
      const client = new SimClient(c, this.rng.int(TICK_MS));
      this.#newIncarnation(client);
      this.clients.push(client);
    }
    this.#checker = new SimClient(CHECKER_CLIENT_ID, 0);
    this.#newIncarnation(this.#checker);
  }

  #newIncarnation(c: SimClient): void {
    c.incarnation++;
    this.#byAddr.delete(c.addr);
    c.addr = ++this.#nextAddr;
    this.#byAddr.set(c.addr, c);
    const rng = this.rng.fork();
    const cfg: ProposerConfig = {
      id: `c${c.id}.${c.incarnation}`,
      acceptors: [...this.acceptors.keys()],
      random: () => rng.float(),
      oneRoundTrip: this.cfg.oneRoundTrip,
      limits: PROPOSER_LIMITS,
    };
    switch (this.cfg.mutation) {
      case Mutation.AcceptWithoutQuorum:
        c.proposer = new ProposerAcceptingOne(cfg);
        break;
      case Mutation.ForgetAccepted:
        c.proposer = new ProposerTakingFirstPromise(cfg);
        break;
      default:
        c.proposer = new Proposer(cfg);
    }
  }

  run(): PaxosSimResult {
    try {
      const end = this.cfg.chaosMs + this.cfg.quietMs;
      for (; this.now < end; this.now++) {
        if (this.now === this.cfg.chaosMs) this.#calm();
        this.#stepOnce();
        if (this.now > this.cfg.chaosMs && this.#finished()) break;
      }
      if (!this.#finished()) this.#livenessFailure();
      this.#checkHistory();
      return { seed: this.seed, config: this.cfg, ok: true, stats: this.#finalStats() };
    } catch (err) {
      const e = err as Error;
      return { seed: this.seed, config: this.cfg, ok: false, error: `seed ${this.seed} at t=${this.now}ms: ${e.message}\n${e.stack ?? ""}`, stats: this.#finalStats() };
    }
  }

  #finalStats(): Record<string, number> {
    let torn = 0;
    let lost = 0;
    for (const a of this.acceptors.values()) {
      torn += a.tornRecoveries;
      lost += a.lostWrites;
    }
    let oneRtt = 0;
    let conflicts = 0;
    for (const c of [...this.clients, this.#checker]) {
      oneRtt += c.proposer.stats.oneRoundTrips;
      conflicts += c.proposer.stats.conflicts;
    }
    return {
      ...this.stats, tornRecoveries: torn, lostWriteCrashes: lost, oneRoundTrips: oneRtt, conflicts, chosen: this.inv.chosen,
      invariantChecks: this.inv.checks, simMs: this.now, messages: this.net.sent, dropped: this.net.dropped,
    };
  }

  #stepOnce(): void {
    for (const env of this.net.deliverDue(this.now)) {
      const a = this.acceptors.get(env.to);
      if (a) {
        a.receive(env, this.now, this.net);
        continue;
      }
      const c = this.#clientAt(env.to);
      if (c) {
        c.proposer.step(env.from, env.msg as AcceptorReply);
        this.#flush(c);
      }
    }
    for (const a of this.acceptors.values()) a.process(this.now, this.net);
    for (const c of [...this.clients, this.#checker]) {
      if (this.now % TICK_MS === c.tickPhase) {
        c.proposer.tick();
        this.#flush(c);
      }
    }
    if (this.now < this.cfg.chaosMs && this.now >= this.#nextNemesisAt) {
      this.#nemesis();
      this.#nextNemesisAt = this.now + this.rng.range(15, 150);
    }
    for (const c of this.clients) this.#drive(c);
    if (this.now > this.cfg.chaosMs && this.#finalReads === null && this.clients.every((c) => c.pending === null)) this.#startFinalReads();
  }

  #clientAt(addr: number): SimClient | undefined {
    return this.#byAddr.get(addr);
  }

  /** Sends what the client's proposer produced and handles completed operations. */
  #flush(c: SimClient): void {
    if (!c.proposer.hasOutput()) return;
    const { messages, completed } = c.proposer.drain();
    for (const m of messages) this.net.send(this.now, { from: c.addr, to: m.to, msg: this.#wire(m.msg) });
    for (const done of completed) this.#complete(c, done);
  }

  #wire(m: PaxosMessage): PaxosMessage {
    if (!this.cfg.wire) return m;
    const frames = encodeFrames([m]);
    const back = decodeFrame(frames[0]!);
    return back[0]!;
  }

  // ------------------------------------------------------------ faults

  #nemesis(): void {
    const accIds = [...this.acceptors.keys()];
    const roll = this.rng.int(100);
    if (roll < 10) {
      this.net.heal();
    } else if (roll < 25) {
      const nodes = [...accIds, ...this.clients.map((c) => c.addr)];
      const shuffled = nodes.slice().sort(() => this.rng.float() - 0.5);
      const k = this.rng.range(1, nodes.length - 1);
      this.net.partition(shuffled.slice(0, k), shuffled.slice(k), this.rng.chance(0.3));
      this.stats.partitions!++;
    } else if (roll < 50) {
      const up = accIds.filter((id) => this.acceptors.get(id)!.up);
      if (up.length > 0) {
        const unsynced = up.filter((id) => this.acceptors.get(id)!.store.unsyncedBytes > 0);
        const victim = unsynced.length > 0 && this.rng.chance(0.7) ? this.rng.pick(unsynced) : this.rng.pick(up);
        this.acceptors.get(victim)!.crash();
        this.stats.crashes!++;
      }
    } else if (roll < 75) {
      const down = accIds.filter((id) => !this.acceptors.get(id)!.up);
      if (down.length > 0) this.acceptors.get(this.rng.pick(down))!.restart();
    } else if (roll < 82) {
      this.acceptors.get(this.rng.pick(accIds))!.diskSlowUntilMs = this.now + this.rng.range(30, 300);
    } else if (roll < 92) {
      this.net.faults = {
        dropRate: this.rng.pick([0, 0.02, 0.1, 0.3]),
        duplicateRate: this.rng.pick([0, 0.05, 0.2]),
        delayMinMs: 1,
        delayMaxMs: this.rng.pick([5, 15, 40, 100]),
      };
    } else {
      this.#restartClient(this.rng.pick(this.clients));
    }
  }

  /** The client process restarts: a new proposer incarnation; its operation in flight has an unknown outcome. */
  #restartClient(c: SimClient): void {
    if (c.pending) {
      this.#record(c.id, c.pending.input, undefined, c.pending.callTime, Number.POSITIVE_INFINITY);
      c.pending = null;
    }
    this.#newIncarnation(c);
    this.stats.clientRestarts!++;
  }

  #calm(): void {
    this.net.heal();
    this.net.faults = { dropRate: 0, duplicateRate: 0, delayMinMs: 1, delayMaxMs: 5 };
    for (const a of this.acceptors.values()) {
      a.diskSlowUntilMs = 0;
      a.restart();
    }
  }

  // ------------------------------------------------------------ clients

  #drive(c: SimClient): void {
    if (c.pending || this.now < c.nextActionAt || this.now >= this.cfg.chaosMs) return;
    const key = this.rng.pick(KEYS);
    const roll = this.rng.int(10);
    const seq = ++c.seq;
    let input: KvInput;
    if (roll < 4) input = { op: "get", key };
    else if (roll < 7) input = { op: "put", key, value: `c${c.id}-${seq}` };
    else {
      const from = this.rng.chance(0.7) ? c.lastSeen.get(key) ?? null : `c${this.rng.range(1, 4)}-${this.rng.range(1, 20)}`;
      input = { op: "cas", key, from, to: `c${c.id}-${seq}` };
    }
    const opId = c.proposer.submit(key, kvChange(`c${c.id}`, seq, input));
    c.pending = { opId, seq, input, callTime: this.now };
    this.#flush(c);
  }

  #complete(c: SimClient, done: Completed): void {
    const p = c === this.#checker ? this.#finalReads?.get(done.key) : c.pending;
    if (!p || p.opId !== done.op) return; // an abandoned incarnation's operation
    const o = done.outcome;
    if (o.ok) {
      const out = o.result as KvOutput;
      this.#record(c.id, p.input, out, p.callTime, this.now);
      if (p.input.op === "get") c.lastSeen.set(p.input.key, out.value ?? null);
      if (p.input.op === "put") c.lastSeen.set(p.input.key, p.input.value);
      if (p.input.op === "cas" && out.ok) c.lastSeen.set(p.input.key, p.input.to);
    } else if (o.error === "unavailable") {
      if (c === this.#checker) throw new Error(`liveness: final read of ${done.key} failed after the faults stopped: ${o.message}`);
      if (o.applied === "unknown") this.#record(c.id, p.input, undefined, p.callTime, Number.POSITIVE_INFINITY);
      else this.stats.opsNotApplied!++;
    } else {
      throw new Error(`client ${c.id}: operation on ${done.key} failed with ${o.error}: ${o.message}`);
    }
    if (c === this.#checker) {
      this.#finalReads!.delete(done.key);
    } else {
      c.pending = null;
      c.nextActionAt = this.now + this.rng.range(0, 20);
    }
  }

  #record(clientId: number, input: KvInput, output: KvOutput | undefined, callTime: number, returnTime: number): void {
    this.stats.ops!++;
    if (output === undefined) this.stats.opsUnknown!++;
    this.history.push({ clientId, input, output, callTime, returnTime });
  }

  #startFinalReads(): void {
    this.#finalReads = new Map();
    for (const key of KEYS) {
      const input: KvInput = { op: "get", key };
      const opId = this.#checker.proposer.submit(key, kvChange("checker", 1, input));
      this.#finalReads.set(key, { opId, seq: 1, input, callTime: this.now });
    }
    this.#flush(this.#checker);
  }

  #finished(): boolean {
    return this.#finalReads !== null && this.#finalReads.size === 0;
  }

  #livenessFailure(): never {
    const lines = [...this.acceptors.values()].map((a) => `acceptor ${a.id} ${a.up ? "up" : "down"} keys=${a.core.size}`);
    for (const c of this.clients) if (c.pending) lines.push(`client ${c.id} waiting on ${JSON.stringify(c.pending.input)} since ${c.pending.callTime}`);
    if (this.#finalReads) lines.push(`final reads pending: ${[...this.#finalReads.keys()].join(",")}`);
    throw new Error(`liveness: not settled ${this.cfg.quietMs}ms after faults stopped:\n  ${lines.join("\n  ")}`);
  }

  #checkHistory(): void {
    const report = checkOperations(kvModel, this.history, LINCHECK_STEPS_MAX);
    if (report.result === CheckResult.Illegal) {
      const ops = report.failingPartition!.slice().sort((a, b) => a.callTime - b.callTime);
      throw new InvariantViolation(`history is not linearizable:\n  ${ops.map((o) => kvModel.describe!(o)).join("\n  ")}`);
    }
    if (report.result === CheckResult.Unknown) this.stats.lincheckUnknown = 1;
  }
}

export function runPaxosSeed(seed: number, acceptors: 3 | 5, mutation: Mutation | null = null): PaxosSimResult {
  return new PaxosSimulation(seed, configForSeed(seed, acceptors, mutation)).run();
}
