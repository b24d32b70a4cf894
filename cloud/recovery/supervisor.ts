// Supervisor: drives RestartPolicy for one Runnable (singleton work in
// process, or a child process: `xsfleet up`'s nodes and replicas). Starts
// it, waits for it to exit, restarts it after the policy's delay, and on
// escalation calls onEscalate (give the lease up, mark the node unhealthy)
// so failover or replacement takes over.

import type { RandomSource } from "../base";
import { HistoryKind } from "../membership";
import type { RecoveryHistory } from "../membership";
import { monotonicNowMs } from "../base";
import { RestartPolicy, restartConfig, type RestartConfig } from "./restart";
import type { ExitInfo, Runnable, RunningHandle } from "./types";

export const SupervisorState = {
  Idle: "idle",
  Running: "running",
  BackingOff: "backing-off",
  Escalated: "escalated",
  Stopped: "stopped",
} as const;
export type SupervisorState = (typeof SupervisorState)[keyof typeof SupervisorState];

export interface SupervisorOptions {
  unit: Runnable;
  restart?: Partial<RestartConfig>;
  random?: RandomSource;
  onEscalate?: (info: { attempts: number; lastExit: ExitInfo }) => void | Promise<void>;
  history?: RecoveryHistory;
  nowMs?: () => number;
}

export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #policy: RestartPolicy;
  readonly #now: () => number;
  #state: SupervisorState = SupervisorState.Idle;
  #handle: RunningHandle | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  #starts = 0;
  readonly #stateListeners = new Set<(s: SupervisorState) => void>();

  constructor(opts: SupervisorOptions) {
    this.#o = opts;
    this.#now = opts.nowMs ?? monotonicNowMs;
    this.#policy = new RestartPolicy(restartConfig(opts.restart), opts.random ?? Math.random);
  }

  get state(): SupervisorState {
    return this.#state;
  }
  get starts(): number {
    return this.#starts;
  }

  onState(l: (s: SupervisorState) => void): () => void {
    this.#stateListeners.add(l);
    return () => this.#stateListeners.delete(l);
  }

  start(): void {
    if (this.#state !== SupervisorState.Idle) throw new Error(`supervisor of ${this.#o.unit.name} already ${this.#state}`);
    void this.#launch();
  }

  async stop(): Promise<void> {
    const prev = this.#state;
    this.#set(SupervisorState.Stopped);
    if (this.#backoffTimer) clearTimeout(this.#backoffTimer);
    if (prev === SupervisorState.Running) await this.#handle?.stop();
  }

  async #launch(): Promise<void> {
    if (this.#state === SupervisorState.Stopped) return;
    const name = this.#o.unit.name;
    let exit: ExitInfo;
    try {
      this.#policy.started(this.#now());
      this.#starts++;
      this.#handle = await this.#o.unit.start();
      // stop() may have run while the unit was starting: it found nothing to stop.
      if ((this.#state as SupervisorState) === SupervisorState.Stopped) {
        await this.#handle.stop();
        this.#handle = undefined;
        return;
      }
      this.#set(SupervisorState.Running);
      exit = await this.#handle.exited;
    } catch (e) {
      exit = { code: null, signal: null, error: `failed to start: ${String(e)}` };
    }
    this.#handle = undefined;
    // stop() may have run while we awaited the exit.
    if ((this.#state as SupervisorState) === SupervisorState.Stopped) return;
    const decision = this.#policy.exited(this.#now());
    if (decision.type === "escalate") {
      this.#set(SupervisorState.Escalated);
      this.#o.history?.record(HistoryKind.Restart, name, "escalated", { attempts: decision.attempts, lastExit: exit });
      await this.#o.onEscalate?.({ attempts: decision.attempts, lastExit: exit });
      return;
    }
    this.#o.history?.record(HistoryKind.Restart, name, "restarting", { attempt: decision.attempt, delayMs: decision.delayMs, exit });
    this.#set(SupervisorState.BackingOff);
    this.#backoffTimer = setTimeout(() => void this.#launch(), decision.delayMs);
  }

  #set(s: SupervisorState): void {
    if (this.#state === s) return;
    this.#state = s;
    for (const l of this.#stateListeners) l(s);
  }
}
