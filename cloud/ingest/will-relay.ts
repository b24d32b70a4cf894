// The will relay: nats-server 2.9.10 does not apply subject mappings to the
// MQTT will (docs/research/nats29 C1), so wills land in XSF_UP on
// `xsfleet.v1.dev.<id>.status`, outside every partition. Any ingest node
// reads them through the durable `xsf-ingest-wills` and republishes each
// into its partition (`xsfleet.v1.p.<P(id)>.dev.<id>.status`) with the
// original XSF_UP seq in `Xsf-Orig-Seq` and `Nats-Msg-Id` = `will-<seq>`
// (a relay repeated after a crash is dropped by the stream's duplicate
// window), then acks. The partition's owner then applies the will in order
// with the device's hello/status, by the original seq (presence is ordered
// by server seq, see cloud/state), so a will that waited in the relay never
// overrides a newer hello.
// Bounds: deliveries per will = maxDeliver; at the last one a will that still
// cannot be relayed is dead-lettered (`poison`), never redelivered forever.
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { parseDeviceAddress, Uplink } from "../../shared/topics";
import type { Logger } from "../base";
import { DlqReason } from "../records";
import { partitionedUplinkSubject } from "../subjects";
import { failureBackoffMs, type Delivery } from "./pipeline";
import type { DeadLetter } from "./publisher";
import { PullLoop } from "./pull-loop";
import type { IngestConfig } from "./settings";
import { IngestStream, willsConsumerName } from "./streams";
import { relayedWillMsgId, WillRelayHeader } from "./will-header";
import type { IngestStats } from "./types";

export interface WillRelayDeps {
  conn: NatsConnection;
  cfg: Pick<IngestConfig, "partitions" | "maxDeliver" | "batchMax" | "prefetchMax" | "ackWaitMs">;
  deadLetter(d: DeadLetter): Promise<unknown>;
  stats: IngestStats;
  log: Logger;
}

export class WillRelay {
  readonly #d: WillRelayDeps;
  readonly #js: JetStreamClient;
  readonly #loop: PullLoop;

  constructor(d: WillRelayDeps) {
    this.#d = d;
    this.#js = jetstream(d.conn, { timeout: 10_000 });
    this.#loop = new PullLoop({
      stream: IngestStream.Uplinks, consumer: willsConsumerName, conn: d.conn, log: d.log,
      cfg: { batchMax: Math.min(d.cfg.batchMax, 64), prefetchMax: Math.min(d.cfg.prefetchMax, 128), ackWaitMs: d.cfg.ackWaitMs },
      handle: (batch) => this.relayBatch(batch),
    });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Relays each will; never throws. */
  async relayBatch(batch: readonly Delivery[]): Promise<void> {
    await Promise.all(batch.map((m) => this.#relay(m)));
  }

  async #relay(m: Delivery): Promise<void> {
    const { stats, log, cfg } = this.#d;
    stats.consumerLag[willsConsumerName] = m.pending;
    const addr = parseDeviceAddress(m.subject);
    try {
      if (!addr || addr.kind !== Uplink.Status) {
        // The consumer's filter makes this unreachable for a well-formed id; a bad id is the partition's problem no more.
        await this.#deadLetter(m, DlqReason.BadSubject, `not a will subject: ${m.subject}`);
        m.ack();
        return;
      }
      const h = headers();
      h.set(WillRelayHeader.OrigSeq, String(m.streamSeq));
      await this.#js.publish(partitionedUplinkSubject(addr.deviceId, Uplink.Status, cfg.partitions), m.data, { msgID: relayedWillMsgId(m.streamSeq), headers: h });
      stats.willsRelayed++;
      m.ack();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (m.deliveryCount < cfg.maxDeliver) {
        log.warn("ingest: will relay failed; redelivered later", { subject: m.subject, error });
        m.nak(failureBackoffMs(m.deliveryCount));
        return;
      }
      try {
        await this.#deadLetter(m, DlqReason.Poison, error);
        m.ack();
      } catch (e) {
        log.error("ingest: will could neither be relayed nor dead-lettered; the server drops it after this delivery", { subject: m.subject, error: String(e) });
        m.nak(failureBackoffMs(m.deliveryCount));
      }
    }
  }

  async #deadLetter(m: Delivery, reason: DlqReason, detail: string): Promise<void> {
    await this.#d.deadLetter({ reason, detail, subject: m.subject, stream: m.stream, streamSeq: m.streamSeq, data: m.data });
    const { stats } = this.#d;
    stats.deadLetters++;
    stats.deadLettersByReason[reason] = (stats.deadLettersByReason[reason] ?? 0) + 1;
  }
}
