// The JetStream side of ingest: one pull loop over one durable consumer (a
// partition's, run by its owner only, or the will relay's), handing batches
// to a handler (the pipeline, pipeline.ts) with bounded concurrency and
// prefetch, keep-alives for slow batches, and a restart when the loop ends
// while it runs. stop() stops pulling, naks what was fetched but not handed
// over, and waits for the batches in flight.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { sleep, type Logger } from "../base";
import type { Delivery } from "./pipeline";
import type { IngestConfig } from "./settings";
import { relayedWillSeq } from "./will-header";

/** Concurrent batches per consumer on one node (per-device order is kept by the device lock). */
const batchesInFlightMax = 4;
/** Pause before a pull loop that ended is started again. */
const loopRestartDelayMs = 500;
/** Lifetime of one pull request and the server heartbeat within it. */
const pullExpiresMs = 5_000;
const pullHeartbeatMs = 1_000;

/** A JetStream message as the pipeline sees it. A will relayed into its
 *  partition carries the seq of the original will (presence is ordered by it).
 *  A class rather than an object of closures: one per message, so nothing is
 *  allocated or named per message beyond it; headers (every MQTT message
 *  carries nats-server's Nmqtt-Pub) are parsed only for status subjects. */
class JsDelivery implements Delivery {
  readonly subject: string;
  /** Taken once: nats.js builds a new view of the payload on every read of JsMsg.data. */
  readonly data: Uint8Array;
  readonly stream: string;
  readonly streamSeq: number;
  readonly deliveryCount: number;
  readonly timeMs: number;
  readonly redelivered: boolean;
  readonly pending: number;
  readonly #m: JsMsg;

  constructor(m: JsMsg) {
    const info = m.info;
    this.#m = m;
    this.subject = m.subject;
    this.data = m.data;
    this.stream = info.stream;
    this.streamSeq = relayedWillSeq(m.subject, () => m.headers, info.streamSequence) ?? info.streamSequence;
    this.deliveryCount = info.deliveryCount;
    this.timeMs = Math.floor(info.timestampNanos / 1e6);
    this.redelivered = info.redelivered;
    this.pending = info.pending;
  }

  ack(): void {
    this.#m.ack();
  }

  nak(delayMs: number): void {
    this.#m.nak(delayMs);
  }
}

export function jsDelivery(m: JsMsg): Delivery {
  return new JsDelivery(m);
}

export interface PullLoopDeps {
  stream: string;
  consumer: string;
  conn: NatsConnection;
  cfg: Pick<IngestConfig, "batchMax" | "prefetchMax" | "ackWaitMs">;
  /** Processes one batch; acks or naks every delivery itself; should not throw. */
  handle(batch: readonly Delivery[]): Promise<void>;
  log: Logger;
  /** Batches handed to `handle` at once; default batchesInFlightMax. 1 keeps
   *  the stream's order across batches (the analytics role needs it). */
  inFlightMax?: number;
  /** Prefix of log lines (the role's name); default "ingest". */
  label?: string;
}

export class PullLoop {
  readonly #d: PullLoopDeps;
  #iter: ConsumerMessages | null = null;
  #stopping = false;
  #done: Promise<void> | null = null;

  constructor(deps: PullLoopDeps) {
    this.#d = deps;
  }

  /** Runs until stop(); a loop that ends (consumer recreated, stream leader lost for long) starts again. */
  start(): void {
    this.#done = this.#runForever();
  }

  /** Stops pulling, finishes the batches in flight, naks what was fetched but not processed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#iter?.stop();
    await this.#done;
  }

  async #runForever(): Promise<void> {
    const { consumer: source, log } = this.#d;
    const label = this.#d.label ?? "ingest";
    while (!this.#stopping) {
      try {
        await this.#runOnce();
        if (!this.#stopping) log.warn(`${label}: consumer loop ended; restarting`, { source });
      } catch (err) {
        if (!this.#stopping) log.error(`${label}: consumer loop failed; restarting`, { source, error: String(err) });
      }
      if (!this.#stopping) await sleep(loopRestartDelayMs);
    }
  }

  async #runOnce(): Promise<void> {
    const { consumer: source, cfg, log } = this.#d;
    const inFlightMax = this.#d.inFlightMax ?? batchesInFlightMax;
    const consumer = await jetstream(this.#d.conn).consumers.get(this.#d.stream, source);
    // Short pulls with heartbeats: when the consumer's leader moves (a server
    // stops), a pull parked on the old leader is noticed in ~2 heartbeats
    // instead of after the default 30 s expiry.
    // The client library buffers up to max_messages out of our sight (no
    // keep-alive possible there), so it pulls one batch at a time; what this
    // node holds beyond that is bounded by prefetchMax below.
    const iter = await consumer.consume({ max_messages: cfg.batchMax, expires: pullExpiresMs, idle_heartbeat: pullHeartbeatMs });
    this.#iter = iter;
    if (this.#stopping) iter.stop();
    const queue: JsMsg[] = [];
    let inFlight = 0;
    let wake: (() => void) | null = null;
    // Messages held by this node (queued or in a batch) and when they came:
    // the keep-alive below tells the server we are still working on them, so
    // a slow batch is not redelivered to another node while it runs.
    const held = new Map<JsMsg, number>();
    const keepAlive = setInterval(() => {
      const oldMs = Date.now() - cfg.ackWaitMs / 3;
      for (const [m, at] of held) if (at < oldMs) m.working();
    }, Math.max(250, Math.floor(cfg.ackWaitMs / 3)));
    const pump = (): void => {
      while (queue.length > 0 && inFlight < inFlightMax) {
        const batch = queue.splice(0, cfg.batchMax);
        inFlight++;
        void this.#d.handle(batch.map(jsDelivery))
          .catch((err: unknown) => log.error(`${this.#d.label ?? "ingest"}: batch crashed`, { source, error: String(err) }))
          .finally(() => {
            for (const m of batch) held.delete(m);
            inFlight--;
            pump();
            if (wake) { const w = wake; wake = null; w(); }
          });
      }
    };
    try {
      for await (const m of iter) {
        if (this.#stopping) { m.nak(); continue; }
        held.set(m, Date.now());
        queue.push(m);
        pump();
        // Backpressure: this node holds (queued + in batches) at most prefetchMax.
        while (held.size >= cfg.prefetchMax && !this.#stopping) await new Promise<void>((r) => (wake = r));
      }
    } finally {
      // Stopped (or the pull failed): what is queued was never processed; hand it back now.
      for (const m of queue.splice(0)) { m.nak(); held.delete(m); }
      while (inFlight > 0) await new Promise<void>((r) => (wake = r));
      clearInterval(keepAlive);
      this.#iter = null;
    }
  }
}
