// Pending commands in a NATS KV bucket (key "<deviceId>.<commandId>"), plus
// an in-memory view of the pending ones kept current by one KV watch per
// node. The KV is the source of truth and every write is a compare-and-set
// on the key's revision; the view only decides what to try (a stale view
// costs a failed CAS, never a wrong transition).
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { isCasConflict } from "../nats";
import type { Logger } from "../base";
import { CommandState, type CommandRecord } from "./types";

export const commandsBucket = "xsfleet_commands";
/** Finished records stay this long for status queries, then the bucket drops them. */
export const commandsRetentionMs = 31 * 24 * 3600_000;

export function commandKey(deviceId: string, commandId: string): string {
  return `${deviceId}.${commandId}`;
}

export interface VersionedCommand {
  record: CommandRecord;
  revision: number;
}

export class CommandStore {
  readonly #kv: KV;
  readonly #log: Logger;
  /** Pending records by key. Invariant: every entry's record.state is "pending". */
  readonly #pending = new Map<string, VersionedCommand>();
  readonly #byDevice = new Map<string, Set<string>>();
  #watch: Awaited<ReturnType<KV["watch"]>> | null = null;
  #watchLoop: Promise<void> | null = null;

  private constructor(kv: KV, log: Logger) {
    this.#kv = kv;
    this.#log = log;
  }

  static async open(nc: NatsConnection, opts: { replicas: number; log: Logger }): Promise<CommandStore> {
    const kvm = new Kvm(jetstream(nc));
    const kv = await kvm.create(commandsBucket, {
      replicas: opts.replicas, history: 1, storage: StorageType.File, ttl: commandsRetentionMs,
      description: "xsfleet pending and finished commands",
    });
    const store = new CommandStore(kv, opts.log);
    await store.#startWatch();
    return store;
  }

  async #startWatch(): Promise<void> {
    const w = await this.#kv.watch({});
    this.#watch = w;
    this.#watchLoop = (async () => {
      for await (const e of w) {
        if (e.operation !== "PUT") { this.#forget(e.key); continue; }
        try {
          this.observe(e.json<CommandRecord>(), e.revision);
        } catch (err) {
          this.#log.warn("unreadable command record", { key: e.key, err });
        }
      }
    })();
  }

  /** Updates the view with a record at a revision; older revisions are ignored. */
  observe(record: CommandRecord, revision: number): void {
    const key = commandKey(record.deviceId, record.commandId);
    const cur = this.#pending.get(key);
    if (cur && cur.revision >= revision) return;
    if (record.state !== CommandState.Pending) { this.#forget(key); return; }
    this.#pending.set(key, { record, revision });
    let set = this.#byDevice.get(record.deviceId);
    if (!set) { set = new Set(); this.#byDevice.set(record.deviceId, set); }
    set.add(key);
  }

  #forget(key: string): void {
    const cur = this.#pending.get(key);
    if (!cur) return;
    this.#pending.delete(key);
    const set = this.#byDevice.get(cur.record.deviceId);
    set?.delete(key);
    if (set && set.size === 0) this.#byDevice.delete(cur.record.deviceId);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  pendingFor(deviceId: string): VersionedCommand[] {
    const keys = this.#byDevice.get(deviceId);
    return keys ? [...keys].map((k) => this.#pending.get(k)!).filter((v) => v !== undefined) : [];
  }

  allPending(): VersionedCommand[] {
    return [...this.#pending.values()];
  }

  async get(deviceId: string, commandId: string): Promise<VersionedCommand | null> {
    const e = await this.#kv.get(commandKey(deviceId, commandId));
    if (!e || e.operation !== "PUT") return null;
    return { record: e.json<CommandRecord>(), revision: e.revision };
  }

  /** Creates the record; null when the key already exists. */
  async create(record: CommandRecord): Promise<number | null> {
    try {
      const revision = await this.#kv.create(commandKey(record.deviceId, record.commandId), JSON.stringify(record));
      this.observe(record, revision);
      return revision;
    } catch (e) {
      if (isCasConflict(e)) return null;
      throw e;
    }
  }

  /** Compare-and-set; the new revision, or null when someone else wrote first. */
  async update(record: CommandRecord, expectedRevision: number): Promise<number | null> {
    try {
      const revision = await this.#kv.update(commandKey(record.deviceId, record.commandId), JSON.stringify(record), expectedRevision);
      this.observe(record, revision);
      return revision;
    } catch (e) {
      if (isCasConflict(e)) return null;
      throw e;
    }
  }

  async close(): Promise<void> {
    this.#watch?.stop();
    await this.#watchLoop?.catch(() => {});
  }
}
