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
import { parseDeviceAddress, partitionRoot, Uplink } from "../../shared/topics";
import type { Logger } from "../base";
import { DlqReason } from "../records";
import { partitionedUplinkSubject } from "../subjects";
import type { Delivery } from "./pipeline";
import type { DeadLetter } from "./publisher";
import { PullLoop } from "./pull-loop";
import type { IngestConfig } from "./settings";
import { IngestStream, willsConsumerName } from "./streams";
import type { IngestStats } from "./types";

export const WillRelayHeader = Object.freeze({
  /** XSF_UP seq of the will as the broker stored it. */
  OrigSeq: "Xsf-Orig-Seq",
} as const);

/** Nats-Msg-Id of a relayed will. */
export function relayedWillMsgId(origSeq: number): string {
  return `will-${origSeq}`;
}

/** Redelivery delay of a delivery that failed: 1 s, 2 s, 4 s, … capped at 30 s. */
export function failureBackoffMs(deliveryCount: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, Math.min(15, deliveryCount - 1)));
}

/**
 * The seq a partition delivery stands for: the original will's seq when it
 * is a relayed will (a partitioned status with a valid `Xsf-Orig-Seq`,
 * necessarily older than the relay's own seq); undefined otherwise. Devices
 * cannot set NATS headers (MQTT 3.1.1 has none).
 */
export function relayedWillSeq(subject: string, hdrs: { get(k: string): string } | undefined, ownSeq: number): number | undefined {
  if (!hdrs || !subject.startsWith(`${partitionRoot}.`) || !subject.endsWith(`.${Uplink.Status}`)) return undefined;
  const v = hdrs.get(WillRelayHeader.OrigSeq);
  if (!/^[1-9][0-9]{0,15}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n < ownSeq ? n : undefined;
}

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
