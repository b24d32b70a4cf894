// Failover, the pure core: one node's view of one singleton role held through
// a lease with a TTL. Inputs are ticks and the results of the lease requests
// it asked for; outputs are actions (acquire, renew, release, activate,
// deactivate) the driver (role-holder.ts) performs. No clock, no I/O.
//
//   standby --tick, retry due--> [acquire] --ok--> active  (emits activate)
//   active --tick, renew due--> [renew] --ok--> active (validity extended)
//   active --renew lost | local validity over--> standby (emits deactivate)
//   active --stepDown--> [release], standby, holding off (escalation)
//
// Safety: the holder trusts its lease only until
//   sentAtMs(of the request that granted/renewed it) + ttlMs - safetyMarginMs
// on its own clock. The request's send time is a lower bound of when the
// control plane stamped it, so local validity ends before the lease does
// (given bounded clock-rate drift). A process paused past that (SIGSTOP, GC)
// sees its validity over at its first tick after resuming; writes that slip
// out before that tick are stopped by the fencing token at the resource.

export interface FailoverConfig {
  readonly ttlMs: number;
  /** Renew this often while active; renewIntervalMs + safetyMarginMs < ttlMs. */
  readonly renewIntervalMs: number;
  /** Standby: try to acquire this often. */
  readonly retryIntervalMs: number;
  /** Local validity ends this long before the lease's TTL. */
  readonly safetyMarginMs: number;
  /** After stepDown, do not try to re-acquire for this long (let a healthy node win). */
  readonly holdOffMs: number;
}

export function failoverConfig(ttlMs: number, overrides: Partial<FailoverConfig> = {}): FailoverConfig {
  const c: FailoverConfig = {
    ttlMs,
    renewIntervalMs: Math.max(1, Math.floor(ttlMs / 3)),
    retryIntervalMs: Math.max(1, Math.floor(ttlMs / 5)),
    safetyMarginMs: Math.max(1, Math.floor(ttlMs / 10)),
    holdOffMs: 2 * ttlMs,
    ...overrides,
  };
  const pos = (k: keyof FailoverConfig): void => {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) throw new Error(`invalid failover config: ${k} must be a positive integer, got ${c[k]}`);
  };
  (["ttlMs", "renewIntervalMs", "retryIntervalMs", "safetyMarginMs"] as const).forEach(pos);
  if (!Number.isSafeInteger(c.holdOffMs) || c.holdOffMs < 0) throw new Error(`invalid failover config: holdOffMs must be an integer >= 0`);
  if (c.renewIntervalMs + c.safetyMarginMs >= c.ttlMs) {
    throw new Error(`invalid failover config: renewIntervalMs (${c.renewIntervalMs}) + safetyMarginMs (${c.safetyMarginMs}) must be below ttlMs (${c.ttlMs})`);
  }
  return Object.freeze(c);
}

export const FailoverState = {
  Standby: "standby",
  Active: "active",
} as const;
export type FailoverState = (typeof FailoverState)[keyof typeof FailoverState];

export type FailoverAction =
  | { readonly type: "acquire"; readonly reqId: number }
  | { readonly type: "renew"; readonly reqId: number; readonly token: number }
  | { readonly type: "release"; readonly token: number }
  | { readonly type: "activate"; readonly token: number; readonly validUntilMs: number }
  | { readonly type: "deactivate"; readonly token: number; readonly reason: DeactivateReason };

export type DeactivateReason = "renew-lost" | "local-expiry" | "step-down";

interface Outstanding {
  readonly reqId: number;
  readonly kind: "acquire" | "renew";
  readonly sentAtMs: number;
}

export class FailoverCore {
  readonly config: FailoverConfig;
  #state: FailoverState = FailoverState.Standby;
  /** Invariant: defined iff state is active. */
  #token: number | undefined;
  /** Invariant: while active, now < #validUntilMs or the next tick deactivates. */
  #validUntilMs = 0;
  #nextAttemptMs = 0;
  #outstanding: Outstanding | undefined;
  #reqIdLast = 0;
  #actions: FailoverAction[] = [];
  /** Bound on undrained actions: the driver must drain after every input. */
  static readonly ACTIONS_MAX = 16;

  constructor(config: FailoverConfig, nowMs: number) {
    this.config = config;
    this.#nextAttemptMs = nowMs;
  }

  get state(): FailoverState {
    return this.#state;
  }
  get token(): number | undefined {
    return this.#token;
  }
  get validUntilMs(): number {
    return this.#validUntilMs;
  }
  /** True while the holder may act on its authority. */
  isActive(nowMs: number): boolean {
    return this.#state === FailoverState.Active && nowMs < this.#validUntilMs;
  }

  takeActions(): FailoverAction[] {
    const a = this.#actions;
    this.#actions = [];
    return a;
  }

  tick(nowMs: number): void {
    if (this.#state === FailoverState.Active && nowMs >= this.#validUntilMs) {
      this.#deactivate("local-expiry", nowMs);
    }
    if (this.#outstanding !== undefined) return;
    if (this.#state === FailoverState.Standby && nowMs >= this.#nextAttemptMs) {
      this.#request("acquire", nowMs);
    } else if (this.#state === FailoverState.Active && nowMs >= this.#nextAttemptMs) {
      this.#request("renew", nowMs);
    }
  }

  /** Result of an acquire: ok with the token, or held by someone (or us, from before). */
  acquired(reqId: number, result: { ok: true; token: number } | { ok: false }, nowMs: number): void {
    const req = this.#take(reqId, "acquire");
    if (!req) return;
    if (!result.ok) {
      this.#nextAttemptMs = nowMs + this.config.retryIntervalMs;
      return;
    }
    const validUntilMs = req.sentAtMs + this.config.ttlMs - this.config.safetyMarginMs;
    if (nowMs >= validUntilMs) {
      // Granted, but the answer took so long that our validity is already over: let it lapse.
      this.#nextAttemptMs = nowMs + this.config.retryIntervalMs;
      return;
    }
    this.#state = FailoverState.Active;
    this.#token = result.token;
    this.#validUntilMs = validUntilMs;
    this.#nextAttemptMs = req.sentAtMs + this.config.renewIntervalMs;
    this.#push({ type: "activate", token: result.token, validUntilMs });
  }

  renewed(reqId: number, result: { ok: boolean }, nowMs: number): void {
    const req = this.#take(reqId, "renew");
    if (!req || this.#state !== FailoverState.Active) return;
    if (!result.ok) {
      this.#deactivate("renew-lost", nowMs);
      this.#nextAttemptMs = nowMs + this.config.retryIntervalMs;
      return;
    }
    this.#validUntilMs = Math.max(this.#validUntilMs, req.sentAtMs + this.config.ttlMs - this.config.safetyMarginMs);
    this.#nextAttemptMs = req.sentAtMs + this.config.renewIntervalMs;
  }

  /** The request failed without an answer (control plane unreachable): retry later; validity runs out on its own. */
  requestFailed(reqId: number, nowMs: number): void {
    if (this.#outstanding?.reqId !== reqId) return;
    this.#outstanding = undefined;
    this.#nextAttemptMs = nowMs + Math.min(this.config.retryIntervalMs, this.config.renewIntervalMs);
  }

  /** Escalation: give the role up now and stay away for holdOffMs. */
  stepDown(nowMs: number): void {
    if (this.#state === FailoverState.Active) {
      const token = this.#token!;
      this.#deactivate("step-down", nowMs);
      this.#push({ type: "release", token });
    }
    this.#outstanding = undefined;
    this.#nextAttemptMs = nowMs + this.config.holdOffMs;
  }

  #request(kind: "acquire" | "renew", nowMs: number): void {
    const reqId = ++this.#reqIdLast;
    this.#outstanding = { reqId, kind, sentAtMs: nowMs };
    this.#push(kind === "acquire" ? { type: "acquire", reqId } : { type: "renew", reqId, token: this.#token! });
  }

  #take(reqId: number, kind: Outstanding["kind"]): Outstanding | undefined {
    const req = this.#outstanding;
    // A stale answer (to a request superseded by a step-down or a deactivation) is ignored.
    if (req === undefined || req.reqId !== reqId || req.kind !== kind) return undefined;
    this.#outstanding = undefined;
    return req;
  }

  #deactivate(reason: DeactivateReason, nowMs: number): void {
    const token = this.#token!;
    this.#state = FailoverState.Standby;
    this.#token = undefined;
    this.#validUntilMs = 0;
    this.#nextAttemptMs = nowMs + this.config.retryIntervalMs;
    this.#push({ type: "deactivate", token, reason });
  }

  #push(a: FailoverAction): void {
    if (this.#actions.length >= FailoverCore.ACTIONS_MAX) throw new Error(`FailoverCore: ${FailoverCore.ACTIONS_MAX} undrained actions; call takeActions()`);
    this.#actions.push(a);
  }
}
