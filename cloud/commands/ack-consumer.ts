// Command acks, read durably: the commands role's own durable pull consumer
// `xsf-commands-acks` on XSF_UP, filtered on `xsfleet.v1.p.*.dev.*.ack` (the
// partition mapping puts every device ack there), shared by every commands
// node. Why not ingest forwarding acks, nor a core-NATS subscription:
//  - a core subscription loses the acks that arrive while no commands node
//    runs, and the device forgets an ack once ingest confirms it (receipts);
//  - XSF_UP already holds every ack durably before ingest confirms it, so a
//    second consumer on it is the whole job — no extra stream, no extra
//    publish in ingest's order of effects;
//  - recording an ack is idempotent per command (a CAS on the command's KV
//    record: an ack for an acked command counts as a duplicate), so
//    redeliveries and device retransmits are harmless, and the order
//    between partitions does not matter.
// Bounds: explicit ack, at most ackDeliverMax deliveries (a handler error
// naks with a delay; at the last delivery the ack is dropped and counted,
// never redelivered forever); at most ackPullMax messages held at once.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, ReplayPolicy, jetstream, jetstreamManager, type ConsumerMessages,
} from "@nats-io/jetstream";
import { parseDeviceAddress, Uplink } from "../../shared/topics";
import type { Logger } from "../base";
import { allPartitionedDevicesSubject, uplinkStream } from "../subjects";

export const commandAcksConsumerName = "xsf-commands-acks";
/** Deliveries of one ack before it is given up (counted). */
export const ackDeliverMax = 5;
const ackPullMax = 64;
const ackWaitMs = 10_000;
/** Wait before looking again for XSF_UP (created by ingest) or after the loop ended. */
const retryMs = 1_000;
const ms = 1_000_000;

export interface AckConsumerDeps {
  nc: NatsConnection;
  replicas: number;
  /** Records one ack; throws on a transient failure (KV unavailable). */
  handle(deviceId: string, data: Uint8Array): Promise<void>;
  /** An ack given up after ackDeliverMax failed deliveries. */
  onGivenUp(subject: string, error: string): void;
  log: Logger;
}

/** Runs until stop(): ensures the durable consumer, then consumes it; restarts when the loop ends. */
export class CommandAckConsumer {
  readonly #d: AckConsumerDeps;
  #iter: ConsumerMessages | null = null;
  #stopping = false;
  #done: Promise<void> = Promise.resolve();

  constructor(d: AckConsumerDeps) {
    this.#d = d;
  }

  start(): void {
    this.#done = this.#run();
  }

  /** Stops pulling; waits for the ack being handled (unhandled ones are redelivered to another node after ack wait). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#iter?.stop();
    await this.#done;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.#ensure();
        await this.#consume();
      } catch (err) {
        const missing = err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
        if (!this.#stopping && !missing) this.#d.log.warn("commands: ack consumer failed; restarting", { error: String(err) });
      }
      if (!this.#stopping) await new Promise((r) => setTimeout(r, retryMs));
    }
  }

  async #ensure(): Promise<void> {
    const jsm = await jetstreamManager(this.#d.nc);
    const want = {
      durable_name: commandAcksConsumerName, name: commandAcksConsumerName, description: "xsfleet commands: device command acks (all partitions)",
      filter_subject: allPartitionedDevicesSubject(Uplink.CommandAck), ack_policy: AckPolicy.Explicit, ack_wait: ackWaitMs * ms,
      max_deliver: ackDeliverMax, max_ack_pending: 1024, deliver_policy: DeliverPolicy.All, replay_policy: ReplayPolicy.Instant,
      num_replicas: this.#d.replicas,
    };
    const info = await jsm.consumers.info(uplinkStream, commandAcksConsumerName).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return null;
      throw err;
    });
    if (info === null) await jsm.consumers.add(uplinkStream, want);
  }

  async #consume(): Promise<void> {
    const consumer = await jetstream(this.#d.nc).consumers.get(uplinkStream, commandAcksConsumerName);
    const iter = await consumer.consume({ max_messages: ackPullMax, expires: 5_000, idle_heartbeat: 1_000 });
    this.#iter = iter;
    if (this.#stopping) iter.stop();
    try {
      for await (const m of iter) {
        if (this.#stopping) { m.nak(); continue; }
        const addr = parseDeviceAddress(m.subject);
        if (!addr) { m.term(); continue; }
        try {
          await this.#d.handle(addr.deviceId, m.data);
          m.ack();
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          if (m.info.deliveryCount >= ackDeliverMax) {
            m.term();
            this.#d.onGivenUp(m.subject, error);
          } else {
            m.nak(retryMs * m.info.deliveryCount);
          }
        }
      }
    } finally {
      this.#iter = null;
    }
  }
}
