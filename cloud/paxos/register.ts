// A small config register without a leader: one JSON value under one key on
// CASPaxos, read linearizably and written by compare-and-set on its
// version. Any process with a PaxosClient can use it while a majority of
// acceptors runs; there is no leader to elect or to lose.
//
//   const reg = new ConfigRegister(client, "config/rollout", parseRollout);
//   const cur = await reg.get();                       // { version, value } | null
//   await reg.set({ wave: 2 }, cur?.version ?? 0);     // ok, or the current value
//
// What it is for: values many processes read and few write, small (at most
// valueBytesMax = 64 KiB as JSON), where a stale read would be wrong and a
// Raft log is not worth it. Failures to reach a majority throw
// RegisterUnavailableError (for set(): the write may or may not have
// happened; read again).

import type { Change, OpOutcome } from "./proposer";
import type { RegisterState } from "./types";

/** What runs change functions: PaxosClient, or anything with the same method. */
export interface ChangeRunner {
  change<R>(key: string, change: Change<R>): Promise<OpOutcome<R>>;
}

export interface Versioned<T> {
  readonly version: number;
  readonly value: T;
}

export type SetResult<T> = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly current: Versioned<T> | null };

export class RegisterUnavailableError extends Error {
  override readonly name = "RegisterUnavailableError";
  constructor(readonly key: string, readonly outcome: Extract<OpOutcome<unknown>, { ok: false }>) {
    super(`register ${key}: ${outcome.error} (${outcome.message}); write applied: ${outcome.applied}`);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class ConfigRegister<T> {
  readonly key: string;
  readonly #runner: ChangeRunner;
  readonly #parse: (v: unknown) => T;

  /** `parse` validates what is read (and what is written) and throws on anything else. */
  constructor(runner: ChangeRunner, key: string, parse: (v: unknown) => T) {
    this.#runner = runner;
    this.key = key;
    this.#parse = parse;
  }

  async get(): Promise<Versioned<T> | null> {
    return this.#run((cur) => ({ write: false, result: this.#decode(cur) }));
  }

  /** Writes `value` if the register is still at `expectedVersion` (0: never written). */
  async set(value: T, expectedVersion: number): Promise<SetResult<T>> {
    const data = this.#encode(value);
    return this.#run((cur): { write: true; data: Uint8Array; result: SetResult<T> } | { write: false; result: SetResult<T> } => {
      if (cur.version !== expectedVersion) return { write: false, result: { ok: false, current: this.#decode(cur) } };
      return { write: true, data, result: { ok: true, version: cur.version + 1 } };
    });
  }

  /** Atomically replaces the value with `fn(current)`; `fn` must be pure (it may run once per attempt). */
  async update(fn: (current: T | null) => T): Promise<Versioned<T>> {
    return this.#run((cur) => {
      const next = fn(this.#decode(cur)?.value ?? null);
      return { write: true, data: this.#encode(next), result: { version: cur.version + 1, value: next } };
    });
  }

  #decode(cur: RegisterState): Versioned<T> | null {
    if (cur.data === null) return null;
    return { version: cur.version, value: this.#parse(JSON.parse(dec.decode(cur.data))) };
  }

  #encode(value: T): Uint8Array {
    return enc.encode(JSON.stringify(this.#parse(value)));
  }

  async #run<R>(change: Change<R>): Promise<R> {
    const o = await this.#runner.change(this.key, change);
    if (!o.ok) throw new RegisterUnavailableError(this.key, o);
    return o.result;
  }
}
