// The device's event counters: one G-Counter per event, this device being
// the only replica it increments. Persisted (key "ctr") when dirty at most
// every flush; the heartbeat carries a digest of the canonical encoding and
// the full CounterState goes out on connect and when the cloud asks.
import { GCounter } from "../../shared/crdt/gcounter";
import { fnv1a32 } from "../../shared/crdt/wire";
import {
  CounterKind,
  createCounter,
  createCounterState,
  decodeCounterState,
  encodeCounterState,
  type CounterState,
} from "../../shared/proto/xsfleet.gen";
import type { Storage } from "../platform";

export const CounterName = Object.freeze({
  Boots: "boots",
  MessagesSent: "sent",
  MessagesAcked: "acked",
  Connects: "connects",
  Reconnects: "reconnects",
  ConnectFailures: "connectFailures",
  CommandsExecuted: "cmdsExecuted",
  CommandsDuplicate: "cmdsDuplicate",
  CommandsExpired: "cmdsExpired",
  CommandsRejected: "cmdsRejected",
  SamplesTaken: "samples",
  SamplesDropped: "samplesDropped",
  OutboxDropped: "outboxDropped",
  OutboxRejected: "outboxRejected",
  BadMessages: "badMessages",
  DownlinksDropped: "downlinksDropped",
  ConfigsApplied: "configsApplied",
  ConfigsRejected: "configsRejected",
} as const);
export type CounterName = (typeof CounterName)[keyof typeof CounterName];

const storageKey = "ctr";
/** Counters a device keeps (the table above); a decoded state may not hold more. */
export const countersMax = 32;

export class DeviceCounters {
  readonly #storage: Storage;
  readonly #replica: string;
  readonly #counters = new Map<string, GCounter>();
  #dirty = false;

  constructor(storage: Storage, replica: string) {
    this.#storage = storage;
    this.#replica = replica;
    this.#load();
  }

  increment(name: CounterName, by = 1): void {
    if (by === 0) return;
    let c = this.#counters.get(name);
    if (c === undefined) {
      if (this.#counters.size >= countersMax) throw new Error(`more than ${countersMax} counters`);
      c = new GCounter({ replicasMax: 16 });
      this.#counters.set(name, c);
    }
    c.increment(this.#replica, by);
    this.#dirty = true;
  }

  value(name: CounterName): number {
    return this.#counters.get(name)?.value() ?? 0;
  }

  /** Full state, counters sorted by name (canonical). */
  state(): CounterState {
    const names = [...this.#counters.keys()].sort();
    const counters = names.map((name) =>
      createCounter({ name, kind: CounterKind.COUNTER_KIND_G, state: this.#counters.get(name)!.encode() }),
    );
    return createCounterState({ counters });
  }

  /** FNV-1a 32 of the canonical CounterState encoding. */
  digest(): number {
    return fnv1a32(encodeCounterState(this.state()));
  }

  /** Persists when anything changed since the last flush. */
  flush(): void {
    if (!this.#dirty) return;
    this.#storage.write(storageKey, encodeCounterState(this.state()));
    this.#dirty = false;
  }

  /** name -> value, for stats. */
  values(): Record<string, number> {
    const o: Record<string, number> = {};
    for (const [k, c] of this.#counters) o[k] = c.value();
    return o;
  }

  #load(): void {
    const bytes = this.#storage.read(storageKey);
    if (bytes === undefined) return;
    try {
      const st = decodeCounterState(bytes);
      if (st.counters.length > countersMax) throw new Error("too many counters");
      for (const c of st.counters) this.#counters.set(c.name, GCounter.decode(c.state, { replicasMax: 16 }));
    } catch {
      // Corrupt counter state: start again from zero rather than refuse to
      // boot. The cloud keeps the max it has seen, so nothing goes backwards there.
      this.#counters.clear();
    }
  }
}
