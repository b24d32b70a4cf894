// The control plane on NATS request/reply, before Raft serves it: one
// process hosts a ControlStateMachine (cloud/control) behind a local
// proposer and answers on xsfleet.v1.recovery.control.<op>; clients get a
// `Proposer` over NATS and a LeaseService/FenceService over the lock
// commands. When cloud/controlplane/client.ts lands, ControlLeaseService is
// constructed with its proposer instead and this server goes away.
//
// Wire: propose  {cmd: Command, session?: {clientId, seq}} → ApplyResult (JSON)
//       snapshot {}                                        → snapshot bytes
//       restore  <snapshot bytes>                          → {ok, appliedIndex} | {ok:false, message}

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { parseBoundedJson } from "../control/canonical-json";
import { localProposer } from "../control/local-proposer";
import { ControlStateMachine, SnapshotError } from "../control/state-machine";
import { CommandKind, ControlError, type ApplyResult, type Command, type Proposer, type SessionRef } from "../control/types";
import type { FenceService, LeaseAcquireResult, LeaseOpResult, LeaseService } from "./types";

export const controlSubject = {
  propose: "xsfleet.v1.recovery.control.propose",
  snapshot: "xsfleet.v1.recovery.control.snapshot",
  restore: "xsfleet.v1.recovery.control.restore",
} as const;

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ControlServer {
  readonly sm: ControlStateMachine;
  stop(): void;
}

/** Serves `sm` on NATS. Single instance per cluster (no replication: that is Raft's job). */
export function serveControlPlane(nc: NatsConnection, sm: ControlStateMachine = new ControlStateMachine(), nowMs: () => number = Date.now): ControlServer {
  const propose = localProposer(sm, { nowMs });
  const subs: Subscription[] = [];
  subs.push(nc.subscribe(controlSubject.propose, {
    callback: (err, msg) => {
      if (err) return;
      const parsed = parseBoundedJson(msg.data, sm.limits.commandBytesMax);
      if (!parsed.ok || typeof parsed.value !== "object" || parsed.value === null) {
        msg.respond(enc.encode(JSON.stringify({ ok: false, code: ControlError.InvalidCommand, message: parsed.ok ? "expected {cmd}" : parsed.message })));
        return;
      }
      const { cmd, session } = parsed.value as { cmd: Command; session?: SessionRef };
      void propose(cmd, session).then((r) => msg.respond(enc.encode(JSON.stringify(r))));
    },
  }));
  subs.push(nc.subscribe(controlSubject.snapshot, { callback: (err, msg) => { if (!err) msg.respond(sm.snapshot()); } }));
  subs.push(nc.subscribe(controlSubject.restore, {
    callback: (err, msg) => {
      if (err) return;
      try {
        sm.restore(msg.data);
        msg.respond(enc.encode(JSON.stringify({ ok: true, appliedIndex: sm.appliedIndex })));
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw e;
        msg.respond(enc.encode(JSON.stringify({ ok: false, message: e.message })));
      }
    },
  }));
  return { sm, stop: () => subs.forEach((s) => s.unsubscribe()) };
}

/** A Proposer that reaches serveControlPlane over NATS. Rejects when nobody answers. */
export function natsProposer(nc: NatsConnection, timeoutMs = 2000): Proposer {
  return async (cmd, session) => {
    const reply = await nc.request(controlSubject.propose, enc.encode(JSON.stringify(session ? { cmd, session } : { cmd })), { timeout: timeoutMs });
    return JSON.parse(dec.decode(reply.data)) as ApplyResult;
  };
}

export async function fetchControlSnapshot(nc: NatsConnection, timeoutMs = 5000): Promise<Uint8Array> {
  return (await nc.request(controlSubject.snapshot, new Uint8Array(0), { timeout: timeoutMs })).data;
}

export async function restoreControlSnapshot(nc: NatsConnection, bytes: Uint8Array, timeoutMs = 5000): Promise<{ ok: boolean; message?: string }> {
  const reply = await nc.request(controlSubject.restore, bytes, { timeout: timeoutMs });
  return JSON.parse(dec.decode(reply.data)) as { ok: boolean; message?: string };
}

/**
 * LeaseService and FenceService over the control plane's fenced locks
 * (lock.try-acquire / extend / release / check-fence). TTLs are judged in
 * leader-stamped time; the token is the lock's fencing token, strictly
 * increasing across holders.
 */
export class ControlLeaseService implements LeaseService, FenceService {
  readonly #propose: Proposer;

  constructor(propose: Proposer) {
    this.#propose = propose;
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<LeaseAcquireResult> {
    const r = await this.#propose({ kind: CommandKind.LockTryAcquire, name, holder, ttlMs });
    if (r.ok && r.kind === CommandKind.LockTryAcquire) return { ok: true, token: r.value.token, expiresAtMs: r.value.expiresAtMs };
    if (!r.ok && r.code === ControlError.Held) {
      return { ok: false, reason: "held", ...(r.holder !== undefined ? { holder: r.holder } : {}), ...(r.expiresAtMs !== undefined ? { expiresAtMs: r.expiresAtMs } : {}) };
    }
    throw unexpected("lock.try-acquire", r);
  }

  async renew(name: string, holder: string, token: number, ttlMs: number): Promise<LeaseOpResult> {
    const r = await this.#propose({ kind: CommandKind.LockExtend, name, holder, token, ttlMs });
    if (r.ok) return { ok: true };
    if (r.code === ControlError.NotHolder || r.code === ControlError.Expired || r.code === ControlError.StaleToken || r.code === ControlError.NotFound) {
      return { ok: false, reason: "lost", message: r.message };
    }
    throw unexpected("lock.extend", r);
  }

  async release(name: string, holder: string, token: number): Promise<boolean> {
    const r = await this.#propose({ kind: CommandKind.LockRelease, name, holder, token });
    if (r.ok) return true;
    if (r.code === ControlError.NotHolder || r.code === ControlError.Expired || r.code === ControlError.NotFound) return false;
    throw unexpected("lock.release", r);
  }

  async checkFence(name: string, token: number): Promise<boolean> {
    const r = await this.#propose({ kind: CommandKind.LockCheckFence, name, token });
    if (r.ok) return true;
    if (r.code === ControlError.StaleToken || r.code === ControlError.NotFound || r.code === ControlError.NotHolder) return false;
    throw unexpected("lock.check-fence", r);
  }
}

function unexpected(op: string, r: ApplyResult): Error {
  return new Error(`control plane ${op}: ${r.ok ? `unexpected ${r.kind}` : `${r.code}: ${r.message}`}`);
}
