// Contracts of the restart strategy: units the supervisor starts and
// watches. Leases and fencing come from cloud/lock (DistributedLock), served
// by the Raft control plane through its client.

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
