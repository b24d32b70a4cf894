// Client of the control-plane service with safe retries.
//
// Every write carries a session (clientId, seq) so the state machine applies
// it once however often it is retried. A client runs several independent
// "lanes" (clientId = `<id>.<incarnation>.<lane>`), each with at most one
// write in flight; the random incarnation keeps a restarted process that
// reuses its id from being answered with its predecessor's remembered results:
// the state machine remembers only `sessionResponsesMax` responses per
// session, so one session with hundreds of concurrent writes could see a
// late first attempt refused as stale. Lanes keep every session strictly
// sequential and cost one session entry each.
//
// A call follows redirects (`not-leader` with a leader id → that node's own
// subject), backs off on `no leader yet`, and retries the same seq after a
// timeout or an unknown outcome until its deadline. At the deadline a write
// fails with ControlTimeoutError: its outcome is unknown.

import { createHash, randomUUID } from "node:crypto";
import type { DeviceRole } from "../../shared/device-role";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import type { Context, Tracer } from "@opentelemetry/api";
import { injectNatsHeaders } from "../tracing";
import { withControlSpan } from "./spans";
import { CommandKind, RESTORE_COUNTER_GAP_DEFAULT, restoreCommands, type ApplyResult, type Command, type Proposer, type ResultFor, type SessionRef } from "../control";
import type { NodeId } from "../raft";
import { isReadCommand } from "../control";
import { controlSubject } from "../subjects";
import { COMMAND_ENDPOINTS, HEADER_CLIENT_ID, HEADER_SEQ, type AdminEndpoint, type CommandEndpoint, type Endpoint, type NodeFailure } from "./service";
import type { NodeStatus } from "./raft-node";
import type { SnapshotInfo } from "./snapshot-export";

export interface ControlClientOptions {
  /** Session id prefix, e.g. the node id (default: a UUID); a random incarnation is appended. */
  readonly clientId?: string;
  /** Whole-call deadline including retries. */
  readonly timeoutMs?: number;
  /** One request's timeout. */
  readonly attemptTimeoutMs?: number;
  /** Concurrent writes per client (one session lane each). */
  readonly lanesMax?: number;
  /** A span per call, child of the active one (spans.ts); absent or null: off. */
  readonly tracer?: Tracer | null;
}

export class ControlTimeoutError extends Error {
  override readonly name = "ControlTimeoutError";
  constructor(readonly endpoint: string, readonly lastError: string) {
    super(`control plane: ${endpoint} did not complete before its deadline (outcome unknown): ${lastError}`);
  }
}

const KIND_TO_ENDPOINT = new Map<string, CommandEndpoint>(
  Object.entries(COMMAND_ENDPOINTS).map(([e, k]) => [k, e as CommandEndpoint]),
);

interface Lane { readonly id: string; seq: number }

const RETRYABLE = new Set(["not-leader", "unknown-outcome", "overloaded", "stopped"]);

export class ControlClient {
  readonly clientId: string;
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #lanesMax: number;
  readonly #tracer: Tracer | null;
  readonly #freeLanes: Lane[] = [];
  #lanes = 0;
  readonly #laneWaiters: ((l: Lane) => void)[] = [];
  #leader: NodeId = 0;
  /** Requests retried (for tests and benchmarks). */
  retries = 0;

  constructor(nc: NatsConnection, opts: ControlClientOptions = {}) {
    this.#nc = nc;
    this.clientId = `${opts.clientId ?? randomUUID()}.${randomUUID().slice(0, 8)}`;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#attemptTimeoutMs = opts.attemptTimeoutMs ?? 2_000;
    this.#lanesMax = opts.lanesMax ?? 1024;
    this.#tracer = opts.tracer ?? null;
  }

  get leader(): NodeId {
    return this.#leader;
  }

  /** Runs a state-machine command: reads via ReadIndex, writes through the log with a session. */
  async command<C extends Command>(cmd: C): Promise<ResultFor<C["kind"]>> {
    const endpoint = KIND_TO_ENDPOINT.get(cmd.kind);
    if (!endpoint) throw new Error(`control client: no endpoint for ${cmd.kind}`);
    const { kind: _kind, ...body } = cmd;
    if (isReadCommand(cmd)) return (await this.request(endpoint, body)) as ResultFor<C["kind"]>;
    const lane = await this.#takeLane();
    try {
      lane.seq++;
      return (await this.request(endpoint, body, { clientId: lane.id, seq: lane.seq })) as ResultFor<C["kind"]>;
    } finally {
      this.#returnLane(lane);
    }
  }

  /** A Proposer (cloud/control/types.ts) for ControlPlaneLock and friends; uses their session when given. */
  proposer(): Proposer {
    return async (cmd: Command, session?: SessionRef): Promise<ApplyResult> => {
      if (!session || isReadCommand(cmd)) return this.command(cmd);
      const endpoint = KIND_TO_ENDPOINT.get(cmd.kind)!;
      const { kind: _kind, ...body } = cmd;
      return (await this.request(endpoint, body, session)) as ApplyResult;
    };
  }

  async status(node?: NodeId): Promise<NodeStatus> {
    const r = (await this.request("raft.status", {}, undefined, node)) as { ok: true; value: NodeStatus };
    return r.value;
  }

  /** Cluster administration; throws on failure. */
  async admin(endpoint: Exclude<AdminEndpoint, "raft.status">, body: Record<string, number>): Promise<unknown> {
    const r = (await this.request(endpoint, body)) as { ok: boolean; value?: unknown; code?: string; message?: string };
    if (!r.ok) throw new Error(`control plane: ${endpoint} failed: ${r.code}: ${r.message}`);
    return r.value;
  }

  /**
   * One call with redirects and retries. `node` pins the call to one node
   * (no redirects). Returns the service's JSON answer; node-level failures
   * that are not retryable (bad-request) are returned as they are.
   */
  async request(endpoint: Endpoint, body: Record<string, unknown>, session?: SessionRef, node?: NodeId): Promise<unknown> {
    if (!this.#tracer) return this.#request(endpoint, body, session, node, null);
    return withControlSpan(this.#tracer, endpoint, () => this.retries, (ctx) => this.#request(endpoint, body, session, node, ctx));
  }

  async #request(endpoint: Endpoint, body: Record<string, unknown>, session: SessionRef | undefined, node: NodeId | undefined, traceCtx: Context | null): Promise<unknown> {
    const deadline = Date.now() + this.#timeoutMs;
    const payload = new TextEncoder().encode(JSON.stringify(body));
    const h = session || traceCtx ? natsHeaders() : undefined;
    if (h && traceCtx) injectNatsHeaders(traceCtx, h);
    if (h && session) {
      h.set(HEADER_CLIENT_ID, session.clientId);
      h.set(HEADER_SEQ, String(session.seq));
    }
    let lastError = "no attempt";
    let backoffMs = 20;
    let redirects = 0;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new ControlTimeoutError(endpoint, lastError);
      if (attempt > 0) this.retries++;
      const target = node ?? this.#leader;
      const subject = controlSubject(endpoint, target);
      let answer: unknown;
      try {
        const msg = await this.#nc.request(subject, payload, { timeout: Math.min(this.#attemptTimeoutMs, left), ...(h ? { headers: h } : {}) });
        answer = JSON.parse(new TextDecoder().decode(msg.data));
      } catch (err) {
        // Timeout or no responders (node down): forget the leader, ask anyone.
        lastError = (err as Error).message;
        // A closed connection never answers: fail now instead of retrying until the deadline (a stopping process waits on it).
        if (this.#nc.isClosed()) throw new ControlTimeoutError(endpoint, `NATS connection closed (${lastError})`);
        if (node === undefined) this.#leader = 0;
        await sleep(Math.min(backoffMs, Math.max(0, deadline - Date.now())));
        backoffMs = Math.min(backoffMs * 2, 500);
        continue;
      }
      const f = answer as Partial<NodeFailure>;
      if (f.ok === false && typeof f.code === "string" && RETRYABLE.has(f.code)) {
        lastError = `${f.code}: ${f.message}`;
        if (node !== undefined && f.code === "not-leader") return answer;
        if (f.code === "not-leader" && f.leader && f.leader !== target) {
          this.#leader = f.leader;
          // Redirect at once, but replicas with stale views could bounce us: back off after a few.
          if (++redirects <= 3) continue;
        }
        if (node === undefined && (f.code === "not-leader" || f.code === "stopped")) this.#leader = 0;
        await sleep(Math.min(backoffMs, Math.max(0, deadline - Date.now())));
        backoffMs = Math.min(backoffMs * 2, 500);
        continue;
      }
      return answer;
    }
  }

  async #takeLane(): Promise<Lane> {
    const free = this.#freeLanes.pop();
    if (free) return free;
    if (this.#lanes < this.#lanesMax) {
      this.#lanes++;
      return { id: `${this.clientId}.${this.#lanes}`, seq: 0 };
    }
    return new Promise((resolve) => this.#laneWaiters.push(resolve));
  }

  #returnLane(lane: Lane): void {
    const w = this.#laneWaiters.shift();
    if (w) w(lane);
    else this.#freeLanes.push(lane);
  }

  // ---- backup and restore

  /**
   * A linearizable snapshot of the control state machine (every write
   * acknowledged before the call is in it), read in chunks from the node
   * that took it; its SHA-256 is checked. For backups.
   */
  async readSnapshot(onProgress?: (p: { done: number; total: number }) => void): Promise<{ bytes: Uint8Array; index: number; node: number }> {
    const begin = (await this.request("snapshot.begin", {})) as { ok: boolean; value?: SnapshotInfo; code?: string; message?: string };
    if (!begin.ok || !begin.value) throw new Error(`control plane: snapshot.begin failed: ${begin.code}: ${begin.message}`);
    const info = begin.value;
    if (info.bytes < 1) throw new Error(`control plane: snapshot ${info.id} is empty`);
    const out = new Uint8Array(info.bytes);
    for (let offset = 0; offset < info.bytes; ) {
      const r = (await this.request("snapshot.chunk", { id: info.id, offset }, undefined, info.node)) as { ok: boolean; value?: { data: string }; code?: string; message?: string };
      if (!r.ok || !r.value) throw new Error(`control plane: snapshot.chunk at ${offset} failed: ${r.code}: ${r.message}`);
      const part = Buffer.from(r.value.data, "base64");
      if (part.byteLength === 0 || offset + part.byteLength > info.bytes) throw new Error(`control plane: snapshot ${info.id} returned a bad chunk at ${offset}`);
      out.set(part, offset);
      offset += part.byteLength;
      onProgress?.({ done: offset, total: info.bytes });
    }
    const sha = createHash("sha256").update(out).digest("hex");
    if (sha !== info.sha256) throw new Error(`control plane: snapshot ${info.id} arrived with SHA-256 ${sha}, node ${info.node} announced ${info.sha256}`);
    return { bytes: out, index: info.index, node: info.node };
  }

  /**
   * Loads a snapshot (from readSnapshot, in a backup) into this control
   * plane through its log: chunks, then the commit (cloud/control/restore.ts).
   * The control plane must be fresh (no devices). Fencing counters continue
   * `counterGap` past the backup's. Throws with the control plane's reason.
   */
  async restoreSnapshot(bytes: Uint8Array, opts: { counterGap?: number; onProgress?: (p: { done: number; total: number }) => void } = {}): Promise<ResultFor<typeof CommandKind.RestoreCommit>> {
    const cmds = restoreCommands(bytes, `restore-${randomUUID().slice(0, 8)}`, opts.counterGap ?? RESTORE_COUNTER_GAP_DEFAULT);
    const lane = await this.#takeLane();
    try {
      for (let i = 0; i < cmds.length; i++) {
        const cmd = cmds[i]!;
        const { kind: _kind, ...body } = cmd;
        lane.seq++;
        const r = (await this.request(KIND_TO_ENDPOINT.get(cmd.kind)!, body, { clientId: lane.id, seq: lane.seq })) as ApplyResult;
        if (!r.ok) throw new Error(`control plane refused the restore at ${cmd.kind} ${i + 1}/${cmds.length}: ${r.code}: ${r.message}`);
        opts.onProgress?.({ done: i + 1, total: cmds.length });
        if (cmd.kind === CommandKind.RestoreCommit) return r as ResultFor<typeof CommandKind.RestoreCommit>;
      }
    } finally {
      this.#returnLane(lane);
    }
    throw new Error("control plane restore: no commit was sent");
  }

  // ---- typed helpers for the common commands

  registerDevice(deviceId: string, role: DeviceRole, metadata: Record<string, string> = {}): Promise<ResultFor<typeof CommandKind.DeviceRegister>> {
    return this.command({ kind: CommandKind.DeviceRegister, deviceId, role, metadata });
  }
  getDevice(deviceId: string): Promise<ResultFor<typeof CommandKind.DeviceGet>> {
    return this.command({ kind: CommandKind.DeviceGet, deviceId });
  }
  /** Advances state time and sweeps expired leases, locks and idle sessions (control-plane housekeeping). */
  tick(): Promise<ResultFor<typeof CommandKind.Tick>> {
    return this.command({ kind: CommandKind.Tick });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
