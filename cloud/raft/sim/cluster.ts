// Deterministic simulation of a Raft cluster (VOPR style): N servers, a
// faulty network, crashing servers with torn writes and slow disks, and
// clients doing put/get/cas through sessions and ReadIndex reads. One seed
// determines everything; invariants are checked as the run goes, and the
// client history is checked for linearizability at the end.

import { CheckResult, checkOperations, kvModel, type KvInput, type KvOperation, type KvOutput } from "../../check/lincheck";
import { MemoryStorage } from "../storage/memory";
import { ConfChangeType, EntryType, ReadOnlyOption, encodeConfChange } from "../types";
import type { Entry, NodeId } from "../types";
import { Invariants, InvariantViolation } from "./invariants";
import type { KvReply } from "./kv";
import { SimNetwork } from "./network";
import { SimNode } from "./node";
import type { NodeParams } from "./node";
import { Prng } from "../../base";

export interface SimConfig {
  readonly nodes: 3 | 5;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly compactEntries: number;
  readonly snapshotChunkBytesMax: number;
  readonly msgBytesMax: number;
  readonly inflightMsgsMax: number;
  readonly membership: boolean;
  readonly clients: number;
  readonly chaosMs: number;
  readonly quietMs: number;
  readonly sessionsMax: number;
}

export interface SimResult {
  readonly seed: number;
  readonly config: SimConfig;
  readonly ok: boolean;
  readonly error?: string;
  readonly stats: Record<string, number>;
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
const KEYS = ["a", "b", "c"] as const;
/** Per-attempt timeouts; a client retries the same (session, seq) until it gets an answer. */
const COMMAND_TIMEOUT_MS = 400;
const READ_TIMEOUT_MS = 300;
/** Linearizability search budget per key; beyond it the run counts as "unknown", not failed. */
const LINCHECK_STEPS_MAX = 400_000;

export function configForSeed(seed: number, nodes: 3 | 5): SimConfig {
  const r = new Prng(seed ^ 0x5eed);
  const cfg = {
    nodes,
    preVote: r.chance(0.5),
    checkQuorum: r.chance(0.5),
    compactEntries: r.pick([0, 6, 25]),
    snapshotChunkBytesMax: r.pick([16, 64, 4096]),
    msgBytesMax: r.pick([80, 400, 1 << 20]),
    inflightMsgsMax: r.pick([1, 4, 64]),
    membership: r.chance(0.35),
    clients: r.range(2, 4),
    chaosMs: 1500,
    quietMs: 2500,
    // At least one session per client: the session table (cloud/control) forgets
    // an evicted client, whose retry would then apply twice (its documented limit).
    sessionsMax: 16,
  };
  return cfg;
}

type Pending =
  | { kind: "command"; seq: number; input: KvInput; callTime: number }
  | { kind: "read"; input: KvInput & { op: "get" }; callTime: number; ctxSeq: number };

class SimClient {
  readonly id: number;
  /** Session id in the state machine's session table. */
  readonly sessionId: string;
  seq = 0;
  pending: Pending | undefined;
  attempt = 0;
  attemptToken = 0;
  deadline = 0;
  nextActionAt = 0;
  leaderHint: NodeId = 0;
  lastSeen = new Map<string, string | null>();
  constructor(id: number) {
    this.id = id;
    this.sessionId = `client-${id}`;
  }
}

export class Simulation {
  readonly seed: number;
  readonly cfg: SimConfig;
  readonly rng: Prng;
  readonly inv = new Invariants();
  readonly net: SimNetwork;
  readonly nodes = new Map<NodeId, SimNode>();
  /** Nodes whose RemoveNode committed (ids are never reused): the "operator" stops them in the quiet phase. */
  readonly removedCommitted = new Set<NodeId>();
  readonly history: KvOperation[] = [];
  readonly clients: SimClient[] = [];
  now = 0;
  #nextId: NodeId;
  #params: NodeParams;
  #ctxSeq = 0;
  #nextNemesisAt = 200;
  stats: Record<string, number> = {
    ops: 0,
    opsUnknown: 0,
    reads: 0,
    crashes: 0,
    partitions: 0,
    confChanges: 0,
    transfers: 0,
    staleSessions: 0,
  };

  constructor(seed: number, cfg: SimConfig) {
    this.seed = seed;
    this.cfg = cfg;
    this.rng = new Prng(seed);
    this.net = new SimNetwork(this.rng.fork(), { dropRate: 0.02, duplicateRate: 0.02, delayMinMs: 1, delayMaxMs: 12 });
    this.#params = {
      raft: {
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: HEARTBEAT_TICKS,
        preVote: cfg.preVote,
        checkQuorum: cfg.checkQuorum,
        readOnlyOption: ReadOnlyOption.Safe,
        msgBytesMax: cfg.msgBytesMax,
        inflightMsgsMax: cfg.inflightMsgsMax,
        snapshotChunkBytesMax: cfg.snapshotChunkBytesMax,
      },
      compactEntries: cfg.compactEntries,
      sessionsMax: cfg.sessionsMax,
      sessionTtlMs: 60_000,
    };
    const boot: Entry[] = [];
    for (let id = 1; id <= cfg.nodes; id++) {
      boot.push({ index: id, term: 1, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: id }) });
    }
    for (let id = 1; id <= cfg.nodes; id++) this.#addNode(id, MemoryStorage.bootstrap(boot));
    this.#nextId = cfg.nodes + 1;
    for (let c = 1; c <= cfg.clients; c++) this.clients.push(new SimClient(c));
  }

  #addNode(id: NodeId, storage: MemoryStorage): SimNode {
    const n = new SimNode(id, storage, this.#params, this.rng.fork(), this.inv, TICK_MS);
    n.onRemoveApplied = (removed) => this.removedCommitted.add(removed);
    this.nodes.set(id, n);
    return n;
  }

  run(): SimResult {
    try {
      const end = this.cfg.chaosMs + this.cfg.quietMs;
      for (; this.now < end; this.now++) {
        if (this.now === this.cfg.chaosMs) this.#calm();
        this.#stepOnce();
        if (this.now > this.cfg.chaosMs + 500 && this.#settled()) break;
      }
      this.#checkLiveness();
      this.#checkHistory();
      return { seed: this.seed, config: this.cfg, ok: true, stats: this.#finalStats() };
    } catch (err) {
      const e = err as Error;
      const where = `seed ${this.seed} at t=${this.now}ms`;
      return { seed: this.seed, config: this.cfg, ok: false, error: `${where}: ${e.message}\n${e.stack ?? ""}`, stats: this.#finalStats() };
    }
  }

  #finalStats(): Record<string, number> {
    let lost = 0;
    let snaps = 0;
    for (const n of this.nodes.values()) {
      lost += n.lostWriteCrashes;
      snaps += n.snapshotsInstalled;
    }
    return { ...this.stats, lostWriteCrashes: lost, snapshotsInstalled: snaps, simMs: this.now, messages: this.net.sent, dropped: this.net.dropped, invariantChecks: this.inv.checks };
  }

  #stepOnce(): void {
    for (const m of this.net.deliverDue(this.now)) this.nodes.get(m.to)?.step(m);
    for (const n of this.nodes.values()) {
      if (this.now % TICK_MS === n.tickPhaseMs) n.tick();
      n.process(this.now, this.net);
    }
    for (const n of this.nodes.values()) {
      if (!n.isLeader()) continue;
      const log = n.raw.raft.log;
      this.inv.onLeader({ id: n.id, term: n.raw.raft.term, firstIndex: log.firstIndex(), lastIndex: log.lastIndex(), termAt: (i) => log.term(i) });
    }
    if (this.now < this.cfg.chaosMs && this.now >= this.#nextNemesisAt) {
      this.#nemesis();
      this.#nextNemesisAt = this.now + this.rng.range(20, 200);
    }
    for (const c of this.clients) this.#driveClient(c);
    if (this.now >= this.cfg.chaosMs && this.now % 100 === 0) this.#decommissionRemoved();
  }

  // ------------------------------------------------------------ faults

  #nemesis(): void {
    const ids = [...this.nodes.keys()];
    const upIds = ids.filter((id) => this.nodes.get(id)!.up);
    const roll = this.rng.int(100);
    if (roll < 10) {
      this.net.heal();
    } else if (roll < 25) {
      const leader = this.#leader();
      if (leader && this.rng.chance(0.5)) {
        // Jepsen's favourite: cut the leader off; clients can still reach it.
        this.net.partition([leader.id], ids.filter((id) => id !== leader.id), this.rng.chance(0.2));
      } else {
        const shuffled = ids.slice().sort(() => this.rng.float() - 0.5);
        const k = this.rng.range(1, Math.max(1, Math.floor(ids.length / 2)));
        this.net.partition(shuffled.slice(0, k), shuffled.slice(k), this.rng.chance(0.3));
      }
      this.stats.partitions!++;
    } else if (roll < 50) {
      if (upIds.length > 1) {
        const victim = this.#pickCrashVictim(upIds);
        if (this.rng.chance(0.5)) victim.crashOnNextWrite = true;
        else victim.crash();
        this.stats.crashes!++;
      }
    } else if (roll < 75) {
      const down = ids.filter((id) => !this.nodes.get(id)!.up && !this.removedCommitted.has(id));
      if (down.length > 0) this.nodes.get(this.rng.pick(down))!.restart();
    } else if (roll < 80) {
      this.nodes.get(this.rng.pick(ids))!.diskSlowUntilMs = this.now + this.rng.range(50, 400);
    } else if (roll < 87) {
      this.net.faults = {
        dropRate: this.rng.pick([0, 0.02, 0.1, 0.3]),
        duplicateRate: this.rng.pick([0, 0.05, 0.2]),
        delayMinMs: 1,
        delayMaxMs: this.rng.pick([5, 15, 40, 120]),
      };
    } else if (roll < 92) {
      const leader = this.#leader();
      if (leader) {
        const voters = leader.raw.raft.voters().filter((v) => v !== leader.id);
        if (voters.length > 0) {
          leader.raw.transferLeader(this.rng.pick(voters));
          this.stats.transfers!++;
        }
      }
    } else if (this.cfg.membership) {
      this.#membershipChange();
    }
  }

  /** Favour the moments that matter: a leader, or a node with writes not yet synced. */
  #pickCrashVictim(upIds: NodeId[]): SimNode {
    const unsynced = upIds.filter((id) => this.nodes.get(id)!.storage.unsyncedWrites > 0);
    const leader = this.#leader();
    const roll = this.rng.int(10);
    if (roll < 6 && unsynced.length > 0) return this.nodes.get(this.rng.pick(unsynced))!;
    if (roll < 7 && leader) return leader;
    return this.nodes.get(this.rng.pick(upIds))!;
  }

  #membershipChange(): void {
    const leader = this.#leader();
    if (!leader) return;
    const cs = leader.raw.raft.confState();
    const roll = this.rng.int(3);
    let ok = false;
    if (roll === 0 && cs.voters.length + cs.learners.length < this.cfg.nodes + 2) {
      const id = this.#nextId;
      // The new server starts empty and learns everything from the leader.
      if (!this.nodes.has(id)) this.#addNode(id, new MemoryStorage());
      const type = this.rng.chance(0.5) ? ConfChangeType.AddLearner : ConfChangeType.AddNode;
      ok = leader.raw.proposeConfChange({ type, nodeId: id }).ok;
      if (ok) this.#nextId++;
    } else if (roll === 1 && cs.learners.length > 0) {
      ok = leader.raw.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: this.rng.pick(cs.learners) }).ok;
    } else if (roll === 2 && cs.voters.length > 3) {
      const victim = this.rng.pick([...cs.voters, ...cs.learners]);
      ok = leader.raw.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: victim }).ok;
    }
    if (ok) this.stats.confChanges!++;
  }

  /** Start of the quiet phase: heal everything so the cluster must make progress. */
  #calm(): void {
    this.net.heal();
    this.net.faults = { dropRate: 0, duplicateRate: 0, delayMinMs: 1, delayMaxMs: 5 };
    for (const n of this.nodes.values()) {
      n.diskSlowUntilMs = 0;
      n.crashOnNextWrite = false;
      if (!this.removedCommitted.has(n.id)) n.restart();
    }
  }

  /**
   * Quiet phase: like an operator, shut down servers whose removal committed.
   * (Membership seen from a leader can be stale; a committed removal is final.)
   */
  #decommissionRemoved(): void {
    for (const id of this.removedCommitted) this.nodes.get(id)?.crash();
  }

  #leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.isLeader() && (!best || n.raw.raft.term > best.raw.raft.term)) best = n;
    }
    return best;
  }

  // ------------------------------------------------------------ clients

  #driveClient(c: SimClient): void {
    if (c.pending) {
      if (this.now >= c.deadline) this.#retryOrGiveUp(c);
      return;
    }
    if (this.now < c.nextActionAt || this.now >= this.cfg.chaosMs) return;
    const key = this.rng.pick(KEYS);
    const roll = this.rng.int(10);
    if (roll < 4) {
      c.pending = { kind: "read", input: { op: "get", key }, callTime: this.now, ctxSeq: 0 };
    } else if (roll < 7) {
      c.pending = { kind: "command", seq: ++c.seq, input: { op: "put", key, value: `c${c.id}-${c.seq}` }, callTime: this.now };
    } else {
      const from = this.rng.chance(0.7) ? c.lastSeen.get(key) ?? null : `c${this.rng.range(1, 4)}-${this.rng.range(1, 20)}`;
      c.pending = { kind: "command", seq: ++c.seq, input: { op: "cas", key, from, to: `c${c.id}-${c.seq}` }, callTime: this.now };
    }
    c.attempt = 0;
    this.#attempt(c);
  }

  #attempt(c: SimClient): void {
    const p = c.pending!;
    c.attempt++;
    const token = ++c.attemptToken;
    const ids = [...this.nodes.keys()];
    const target = c.leaderHint !== 0 && this.rng.chance(0.7) ? c.leaderHint : this.rng.pick(ids);
    const node = this.nodes.get(target);
    c.deadline = this.now + (p.kind === "read" ? READ_TIMEOUT_MS : COMMAND_TIMEOUT_MS);
    if (!node || !node.up) return; // the request is lost: the client times out
    const live = (): boolean => c.pending === p && c.attemptToken === token;
    let err: string | undefined;
    if (p.kind === "command") {
      err = node.command(c.sessionId, p.seq, p.input, this.now, (r) => live() && this.#onCommandResponse(c, p, r, target));
    } else {
      p.ctxSeq = ++this.#ctxSeq;
      const ctx = new TextEncoder().encode(`r${p.ctxSeq}`);
      err = node.read(p.input.key, ctx, (value) => {
        if (!live()) return;
        this.#record(c, p.input, { value }, p.callTime, this.now);
        c.lastSeen.set(p.input.key, value);
        c.leaderHint = target;
        this.stats.reads!++;
        this.#finish(c);
      });
    }
    if (err !== undefined) {
      // Refused at once (not leader, transfer in progress...): try elsewhere soon.
      c.leaderHint = node.raw.raft.lead;
      c.deadline = this.now + this.rng.range(5, 30);
    }
  }

  #onCommandResponse(c: SimClient, p: Pending & { kind: "command" }, r: KvReply, target: NodeId): void {
    c.leaderHint = target;
    if (r.status === "ok") {
      const out: KvOutput = r.output;
      this.#record(c, p.input, out, p.callTime, this.now);
      if (p.input.op === "put") c.lastSeen.set(p.input.key, p.input.value);
      if (p.input.op === "cas" && out.ok) c.lastSeen.set(p.input.key, p.input.to);
    } else {
      // Older than the session remembers: it may or may not have been applied.
      this.stats.staleSessions!++;
      this.#record(c, p.input, undefined, p.callTime, Number.POSITIVE_INFINITY);
    }
    this.#finish(c);
  }

  #retryOrGiveUp(c: SimClient): void {
    // Same (session, seq) again: sessions make the retry apply at most once,
    // so the client keeps trying until it learns the outcome. The hint may be stale.
    c.leaderHint = 0;
    this.#attempt(c);
  }

  #record(c: SimClient, input: KvInput, output: KvOutput | undefined, callTime: number, returnTime: number): void {
    this.stats.ops!++;
    if (output === undefined) this.stats.opsUnknown!++;
    this.history.push({ clientId: c.id, input, output, callTime, returnTime });
  }

  #finish(c: SimClient): void {
    c.pending = undefined;
    c.nextActionAt = this.now + this.rng.range(0, 30);
  }

  // ------------------------------------------------------------ end checks

  #settled(): boolean {
    if (this.clients.some((c) => c.pending)) return false;
    const leader = this.#leader();
    if (!leader) return false;
    const commit = leader.raw.raft.log.committed;
    for (const id of leader.raw.raft.voters()) {
      const n = this.nodes.get(id);
      if (!n || !n.up || n.appliedIndex < commit) return false;
    }
    return leader.appliedIndex >= commit;
  }

  #checkLiveness(): void {
    if (!this.#settled()) {
      const states = [...this.nodes.values()].map((n) => (n.up ? n.raw.raft.describe() + ` applied=${n.appliedIndex}` : `node ${n.id} down`));
      for (const c of this.clients) {
        if (c.pending) states.push(`client ${c.id} session=${c.sessionId} waiting on ${JSON.stringify(c.pending)} attempt ${c.attempt}`);
      }
      throw new Error(`liveness: cluster did not settle ${this.cfg.quietMs}ms after faults stopped:\n  ${states.join("\n  ")}`);
    }
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

export function runSeed(seed: number, nodes: 3 | 5): SimResult {
  return new Simulation(seed, configForSeed(seed, nodes)).run();
}
