// Distributed locks with a TTL and fencing tokens.
//
// A lock is held while state-machine time < expiresAtMs. tryAcquire never
// waits: it grants or answers "held" (with the holder's expiry as a retry
// hint); waiting with a timeout is the client's loop (cloud/lock/).
//
// Fencing tokens come from ONE counter for all locks, which only grows and
// is part of the snapshot. Hence tokens strictly increase across successive
// holders of any one lock (what fencing needs), across expiry, release,
// restart and snapshot install, and no per-lock record has to be kept after
// release just to remember its last token.
//
// checkFence(name, token) succeeds only for the live holder's token. A
// holder paused past its TTL (GC pause, VM freeze, partition) therefore
// finds its token rejected even before anyone else takes the lock; a
// resource that cannot ask the control plane can instead keep the largest
// token it has seen and reject smaller ones (cloud/lock/fence.ts).
//
// Locks are not reentrant: a holder acquiring a lock it already holds gets
// "held", so two tasks sharing one holder id still exclude each other.

import { Fields, FieldError, NAME_PATTERN } from "./fields";
import type { ControlLimits } from "./limits";
import {
  CommandKind,
  ControlError,
  failure,
  success,
  type ControlFailure,
  type LockCheckFenceCommand,
  type LockExtendCommand,
  type LockRecord,
  type LockReleaseCommand,
  type LockTryAcquireCommand,
  type ResultFor,
} from "./types";

export interface LocksDump {
  fenceTokenLast: number;
  locks: LockRecord[];
}

export class Locks {
  readonly #limits: ControlLimits;
  /** Invariant: every record's token <= #fenceTokenLast. */
  readonly #locks = new Map<string, LockRecord>();
  #fenceTokenLast = 0;

  constructor(limits: ControlLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#locks.size;
  }

  get fenceTokenLast(): number {
    return this.#fenceTokenLast;
  }

  tryAcquire(cmd: LockTryAcquireCommand, timeMs: number): ResultFor<typeof CommandKind.LockTryAcquire> {
    const held = this.#live(cmd.name, timeMs, true);
    if (held) {
      return failure(ControlError.Held, `lock ${cmd.name} is held by ${held.holder}`, { holder: held.holder, expiresAtMs: held.expiresAtMs });
    }
    if (this.#locks.size >= this.#limits.locksMax) {
      this.sweep(timeMs);
      if (this.#locks.size >= this.#limits.locksMax) return failure(ControlError.LimitExceeded, `too many locks held (locksMax ${this.#limits.locksMax})`);
    }
    const record: LockRecord = {
      name: cmd.name, holder: cmd.holder, token: ++this.#fenceTokenLast,
      ttlMs: cmd.ttlMs, acquiredAtMs: timeMs, expiresAtMs: timeMs + cmd.ttlMs,
    };
    this.#locks.set(cmd.name, record);
    return success(CommandKind.LockTryAcquire, record);
  }

  release(cmd: LockReleaseCommand, timeMs: number): ResultFor<typeof CommandKind.LockRelease> {
    const held = this.#live(cmd.name, timeMs, true);
    if (!held || held.holder !== cmd.holder || held.token !== cmd.token) return this.#notHolder(cmd.name, held);
    this.#locks.delete(cmd.name);
    return success(CommandKind.LockRelease, held);
  }

  extend(cmd: LockExtendCommand, timeMs: number): ResultFor<typeof CommandKind.LockExtend> {
    const held = this.#live(cmd.name, timeMs, true);
    if (!held || held.holder !== cmd.holder || held.token !== cmd.token) return this.#notHolder(cmd.name, held);
    const record: LockRecord = { ...held, ttlMs: cmd.ttlMs, expiresAtMs: timeMs + cmd.ttlMs };
    this.#locks.set(cmd.name, record);
    return success(CommandKind.LockExtend, record);
  }

  checkFence(cmd: LockCheckFenceCommand, timeMs: number): ResultFor<typeof CommandKind.LockCheckFence> {
    const held = this.#live(cmd.name, timeMs, false);
    if (!held || held.token !== cmd.token) {
      return failure(ControlError.StaleToken, `token ${cmd.token} is not the live token of lock ${cmd.name}`,
        held ? { current: held.token, holder: held.holder, expiresAtMs: held.expiresAtMs } : {});
    }
    return success(CommandKind.LockCheckFence, held);
  }

  sweep(timeMs: number): void {
    for (const [name, rec] of [...this.#locks]) if (rec.expiresAtMs <= timeMs) this.#locks.delete(name);
  }

  #notHolder(name: string, held: LockRecord | undefined): ControlFailure {
    return held
      ? failure(ControlError.NotHolder, `lock ${name} is held by ${held.holder} with another token`, { holder: held.holder, expiresAtMs: held.expiresAtMs })
      : failure(ControlError.NotHolder, `lock ${name} is not held (released or expired)`);
  }

  /** `evict` false for reads, which must not change state. */
  #live(name: string, timeMs: number, evict: boolean): LockRecord | undefined {
    const rec = this.#locks.get(name);
    if (!rec) return undefined;
    if (rec.expiresAtMs > timeMs) return rec;
    if (evict) this.#locks.delete(name);
    return undefined;
  }

  dump(): LocksDump {
    return { fenceTokenLast: this.#fenceTokenLast, locks: [...this.#locks.keys()].sort().map((n) => this.#locks.get(n)!) };
  }

  load(v: unknown): void {
    const f = new Fields(v, "snapshot.locks");
    const fenceTokenLast = f.int("fenceTokenLast", 0, Number.MAX_SAFE_INTEGER);
    const items = f.array("locks", this.#limits.locksMax);
    f.done();
    this.#locks.clear();
    items.forEach((item, i) => {
      const path = `snapshot.locks.locks[${i}]`;
      const r = new Fields(item, path);
      const rec: LockRecord = {
        name: r.str("name", this.#limits.nameBytesMax, NAME_PATTERN),
        holder: r.str("holder", this.#limits.nameBytesMax, NAME_PATTERN),
        token: r.int("token", 1, fenceTokenLast),
        ttlMs: r.int("ttlMs", this.#limits.ttlMsMin, this.#limits.ttlMsMax),
        acquiredAtMs: r.int("acquiredAtMs", 0, Number.MAX_SAFE_INTEGER),
        expiresAtMs: r.int("expiresAtMs", 0, Number.MAX_SAFE_INTEGER),
      };
      r.done();
      if (this.#locks.has(rec.name)) throw new FieldError(`${path}: duplicate lock ${rec.name}`);
      this.#locks.set(rec.name, rec);
    });
    this.#fenceTokenLast = fenceTokenLast;
  }
}
