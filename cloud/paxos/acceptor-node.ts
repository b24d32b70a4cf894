// One CASPaxos acceptor as a NATS service: the Acceptor core, its disk store
// (storage/file.ts) and a subscription on `xsfleet.paxos.<group>.<id>`.
//
// The subscription callback only queues raw frames (bounded:
// inboxFramesMax; overflow is dropped and counted — proposers time out and
// retry). One loop, never re-entered, drains the queue:
//   1. decode each frame (a bad frame is counted and dropped whole) and
//      handle every request with the core, putting changed slots;
//   2. fsync once for the whole pass (group commit);
//   3. only then publish the replies, batched per proposer inbox.
// Frames that arrive during the fsync wait for the next pass, so the
// heavier the load the bigger the batch per fsync.
//
// The data dir holds acceptor.json with the acceptor's id and group: opening
// it as another acceptor is refused, because two acceptors sharing one
// promise history is two votes for one.

import * as fs from "node:fs";
import * as path from "node:path";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { writeFileAtomic } from "../raft/storage";
import { paxosAcceptorSubject, paxosStatusSubject } from "../subjects";
import { Acceptor, ACCEPTOR_DEFAULTS } from "./acceptor";
import { CodecError, decodeFrame, encodeFrames } from "./codec";
import { FileAcceptorStore } from "./storage";
import { MsgKind, type AcceptorId, type AcceptorReply } from "./types";

export const ACCEPTOR_NODE_LIMITS = {
  /** Frames waiting for the loop; beyond this they are dropped (proposers retry). */
  inboxFramesMax: 8192,
  /** Frames handled per pass (one fsync). */
  framesPerPassMax: 2048,
  /** Status request bodies are ignored beyond this. */
  statusRequestBytesMax: 1024,
} as const;

export interface AcceptorNodeOptions {
  readonly id: AcceptorId;
  readonly group: string;
  readonly dataDir: string;
  readonly nc: NatsConnection;
  readonly keysMax?: number;
  readonly logBytesMax?: number;
  readonly log?: (msg: string) => void;
}

export interface AcceptorNodeStats {
  framesReceived: number;
  requests: number;
  decodeErrors: number;
  inboxDropped: number;
  passes: number;
  replyFrames: number;
}

export interface AcceptorStatus {
  readonly id: AcceptorId;
  readonly group: string;
  readonly keys: number;
  readonly keysMax: number;
  readonly fsyncs: number;
  readonly snapshots: number;
  readonly node: AcceptorNodeStats;
  readonly core: Acceptor["stats"];
}

interface Inbound {
  readonly data: Uint8Array;
  readonly reply: string | undefined;
}

export class AcceptorNode {
  readonly id: AcceptorId;
  readonly group: string;
  readonly stats: AcceptorNodeStats = { framesReceived: 0, requests: 0, decodeErrors: 0, inboxDropped: 0, passes: 0, replyFrames: 0 };
  /** Called once with a storage failure; the process must exit (a failed fsync is never retried). */
  onFatal: (err: Error) => void = () => undefined;
  readonly #nc: NatsConnection;
  readonly #core: Acceptor;
  readonly #store: FileAcceptorStore;
  readonly #inbox: Inbound[] = [];
  readonly #subs: Subscription[] = [];
  #loop: Promise<void> | null = null;
  #stopped = false;
  #failed: Error | null = null;

  private constructor(opts: AcceptorNodeOptions, store: FileAcceptorStore) {
    this.id = opts.id;
    this.group = opts.group;
    this.#nc = opts.nc;
    this.#store = store;
    this.#core = new Acceptor(opts.id, store.loaded(), { keysMax: opts.keysMax ?? ACCEPTOR_DEFAULTS.keysMax });
  }

  static async open(opts: AcceptorNodeOptions): Promise<AcceptorNode> {
    paxosAcceptorSubject(opts.group, opts.id); // validates id and group
    claimDataDir(opts.dataDir, opts.id, opts.group);
    const log = opts.log ?? (() => undefined);
    const store = FileAcceptorStore.open(opts.dataDir, { ...(opts.logBytesMax ? { logBytesMax: opts.logBytesMax } : {}), warn: log });
    const node = new AcceptorNode(opts, store);
    log(`acceptor ${opts.id} of ${opts.group}: ${store.loaded().size} keys loaded from ${opts.dataDir}${store.truncatedBytes ? ` (torn tail of ${store.truncatedBytes} bytes dropped)` : ""}`);
    node.#start();
    await opts.nc.flush();
    return node;
  }

  #start(): void {
    this.#subs.push(this.#nc.subscribe(paxosAcceptorSubject(this.group, this.id), {
      callback: (err, msg) => {
        if (err || this.#stopped) return;
        this.stats.framesReceived++;
        if (this.#inbox.length >= ACCEPTOR_NODE_LIMITS.inboxFramesMax) {
          this.stats.inboxDropped++;
          return;
        }
        this.#inbox.push({ data: msg.data, reply: msg.reply });
        this.#wake();
      },
    }));
    this.#subs.push(this.#nc.subscribe(paxosStatusSubject(this.group, this.id), {
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        try {
          msg.respond(JSON.stringify(this.status()));
        } catch {
          // Connection closing: the caller times out.
        }
      },
    }));
  }

  status(): AcceptorStatus {
    return {
      id: this.id, group: this.group, keys: this.#core.size, keysMax: this.#core.limits.keysMax,
      fsyncs: this.#store.fsyncs, snapshots: this.#store.snapshots, node: { ...this.stats }, core: { ...this.#core.stats },
    };
  }

  #wake(): void {
    if (this.#loop || this.#failed) return;
    this.#loop = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain()).finally(() => {
      this.#loop = null;
      if (this.#inbox.length > 0 && !this.#stopped) this.#wake();
    });
  }

  async #drain(): Promise<void> {
    while (this.#inbox.length > 0 && !this.#failed) {
      const batch = this.#inbox.splice(0, ACCEPTOR_NODE_LIMITS.framesPerPassMax);
      const replies = this.#handle(batch);
      try {
        await this.#store.sync();
      } catch (err) {
        this.#failed = err as Error;
        this.onFatal(this.#failed);
        return;
      }
      this.stats.passes++;
      // Durable: now the replies may leave.
      for (const [subject, msgs] of replies) {
        for (const frame of encodeFrames(msgs)) {
          try {
            this.#nc.publish(subject, frame);
            this.stats.replyFrames++;
          } catch {
            // Closed or draining connection: the proposer times out and retries.
          }
        }
      }
    }
  }

  #handle(batch: readonly Inbound[]): Map<string, AcceptorReply[]> {
    const out = new Map<string, AcceptorReply[]>();
    for (const f of batch) {
      let msgs;
      try {
        msgs = decodeFrame(f.data);
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        this.stats.decodeErrors++;
        continue;
      }
      if (!f.reply) {
        this.stats.decodeErrors++;
        continue;
      }
      let list = out.get(f.reply);
      if (!list) out.set(f.reply, (list = []));
      for (const m of msgs) {
        if (m.kind !== MsgKind.Prepare && m.kind !== MsgKind.Accept) {
          this.stats.decodeErrors++;
          continue;
        }
        this.stats.requests++;
        const h = this.#core.handle(m);
        if (h.write) this.#store.put(h.write.key, h.write.slot);
        list.push(h.reply);
      }
    }
    return out;
  }

  /** Stops taking requests, finishes the pass in progress (its replies are sent), syncs and closes the store. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const s of this.#subs) s.unsubscribe();
    this.#inbox.length = 0;
    await this.#loop?.catch(() => undefined);
    await this.#store.close();
  }
}

/** Binds a data dir to one acceptor identity (first open writes it). */
function claimDataDir(dir: string, id: AcceptorId, group: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "acceptor.json");
  if (fs.existsSync(file)) {
    let who: { id?: unknown; group?: unknown };
    try {
      who = JSON.parse(fs.readFileSync(file, "utf8")) as { id?: unknown; group?: unknown };
    } catch (err) {
      throw new Error(`${file} is not readable JSON: ${(err as Error).message}`);
    }
    if (who.id !== id || who.group !== group) {
      throw new Error(`${dir} belongs to acceptor ${String(who.id)} of group ${String(who.group)}, not ${id} of ${group}: refusing to vote twice with one history`);
    }
    return;
  }
  writeFileAtomic(dir, "acceptor.json", new TextEncoder().encode(JSON.stringify({ id, group })));
}
