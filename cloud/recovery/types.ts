// Contracts the recovery strategies code against. Narrow on purpose: the
// lease/fence service is implemented today over the in-process control
// state machine exposed on NATS (control-adapter.ts) and moves onto the
// Raft-replicated control plane (cloud/controlplane/client.ts) by writing a
// second ~40-line adapter; nothing else changes.

/** A named lease with a TTL and a fencing token (the control plane's lock). */
export interface LeaseService {
  /** Takes the lease if free (or expired); never waits. */
  acquire(name: string, holder: string, ttlMs: number): Promise<LeaseAcquireResult>;
  /** Restarts the TTL; fails once the lease expired or changed holder. */
  renew(name: string, holder: string, token: number, ttlMs: number): Promise<LeaseOpResult>;
  /** Gives the lease up early (clean shutdown, escalation); false if it was not ours any more. */
  release(name: string, holder: string, token: number): Promise<boolean>;
}

/** Fencing check of the guarded resource side. */
export interface FenceService {
  /** True only if `token` is the live holder's token of `name` now. */
  checkFence(name: string, token: number): Promise<boolean>;
}

export type LeaseAcquireResult =
  | { readonly ok: true; readonly token: number; readonly expiresAtMs: number }
  | { readonly ok: false; readonly reason: "held"; readonly holder?: string; readonly expiresAtMs?: number };

export type LeaseOpResult = { readonly ok: true } | { readonly ok: false; readonly reason: "lost"; readonly message: string };

/** A unit the supervisor can start and watch: a role in-process or a child process. */
export interface Runnable {
  readonly name: string;
  start(): Promise<RunningHandle>;
}

export interface RunningHandle {
  /** Settles when the unit stops by itself (crash or exit). */
  readonly exited: Promise<ExitInfo>;
  /** Asks the unit to stop; resolves once it has. */
  stop(): Promise<void>;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
  readonly error?: string;
}
