// The commands role: end-to-end reliability for commands that travel
// NATS -> MQTT at QoS 0. It
//  - re-sends pending commands with backoff until acked, out of attempts, or past the deadline;
//  - re-sends a device's pending commands when it says Hello or reports itself online;
//  - records CommandAcks (read durably from XSF_UP, ack-consumer.ts) and publishes command-acked;
//  - marks commands expired at their deadline and publishes command-expired.
// Several nodes may run it. Every step is a compare-and-set on the command's
// KV record, so each attempt, each ack and each expiry is applied by exactly
// one node; a lease in the record keeps one command's retry loop on one node
// while that node is alive, and lets another take over when it is not.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { AckStatus, type CommandAck } from "../../shared/proto/xsfleet.gen";
import { uplinkBytesMax } from "../../shared/proto/limits";
import { decodeCommandAck } from "../records";
import { parseDeviceAddress, Uplink } from "../../shared/topics";
import { allDevicesSubject, allRoutesOfUplinks, deviceSubject } from "../subjects";
import { CommandAckConsumer } from "./ack-consumer";
import type { Logger } from "../base";
import { isOnlineSignal } from "../records";
import { publishCommandEvent, sendCommand } from "./downlink";
import { withAckSpan } from "./spans";
import { afterExpire, afterOnlineSend, afterTimedSend, decide } from "./policy";
import type { CommandLimits, CommandRetrySettings } from "./settings";
import type { CommandStore, VersionedCommand } from "./store";
import { ackStatusName, CommandState, commandWireLimits, type CommandRecord } from "./types";

export const commandsQueueGroup = "xsfleet-commands";

export interface CommandWorkerStats {
  sent: number;
  resentOnline: number;
  acked: number;
  expired: number;
  duplicateAcks: number;
  unknownAcks: number;
  lateAcks: number;
  casConflicts: number;
  errors: number;
  /** Acks that failed at every delivery and were given up. */
  acksGivenUp: number;
}

export interface CommandWorkerOptions {
  nc: NatsConnection;
  store: CommandStore;
  nodeId: string;
  limits: CommandLimits;
  retry: CommandRetrySettings;
  log: Logger;
  /** Replicas of the durable ack consumer (the node's stream replica count). */
  replicas?: number;
  nowMs?: () => number;
  random?: () => number;
  /** Spans for downlinks and acks (spans.ts); null: off. */
  tracer?: Tracer | null;
}

export class CommandWorker {
  readonly #o: Required<CommandWorkerOptions>;
  readonly stats: CommandWorkerStats = { sent: 0, resentOnline: 0, acked: 0, expired: 0, duplicateAcks: 0, unknownAcks: 0, lateAcks: 0, casConflicts: 0, errors: 0, acksGivenUp: 0 };
  #subs: Subscription[] = [];
  #acks: CommandAckConsumer | null = null;
  #loops: Promise<void>[] = [];
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #stopping = false;

  constructor(o: CommandWorkerOptions) {
    this.#o = { nowMs: Date.now, random: Math.random, replicas: 1, tracer: null, ...o };
  }

  start(): void {
    const { nc } = this.#o;
    this.#acks = new CommandAckConsumer({
      nc, replicas: this.#o.replicas, log: this.#o.log, handle: (id, data) => this.#onAck(id, data),
      onGivenUp: (subject, error) => { this.stats.acksGivenUp++; this.#o.log.warn("command ack given up after repeated failures", { subject, error }); },
    });
    this.#acks.start();
    // Online signals are best effort (the retry tick resends anyway): core NATS, on the mapped
    // subjects and, for the MQTT will in operator mode and unmapped brokers, the unmapped ones.
    this.#subs = allRoutesOfUplinks([Uplink.Hello, Uplink.Status])
      .map((subject) => nc.subscribe(subject, { queue: commandsQueueGroup }));
    this.#loops = this.#subs.map((sub) => this.#consume(sub, (id, data) => this.#onOnline(id, data)));
    this.#timer = setInterval(() => {
      if (this.#ticking || this.#stopping) return;
      this.#ticking = this.tick().finally(() => { this.#ticking = null; });
    }, this.#o.retry.tickMs);
  }

  /** Messages are processed one at a time per subscription, off the socket callback. */
  async #consume(sub: Subscription, handle: (deviceId: string, data: Uint8Array) => Promise<void>): Promise<void> {
    for await (const m of sub) {
      const addr = parseDeviceAddress(m.subject);
      if (!addr) continue;
      try {
        await handle(addr.deviceId, m.data);
      } catch (e) {
        this.stats.errors++;
        this.#o.log.warn("command message handling failed", { subject: m.subject, err: e });
      }
    }
  }

  /** One pass over the pending view: expire what is due, re-send what is due. */
  async tick(): Promise<void> {
    const { nodeId, limits } = this.#o;
    for (const v of this.#o.store.allPending()) {
      if (this.#stopping) return;
      const now = this.#o.nowMs();
      const action = decide(v.record, now, nodeId, limits.commandRetryAttemptsMax);
      try {
        if (action === "expire") await this.#expire(v, now);
        else if (action === "send") await this.#casAndSend(v, afterTimedSend(v.record, now, nodeId, this.#o.retry, this.#o.random()), now, false);
      } catch (e) {
        this.stats.errors++;
        this.#o.log.warn("command retry step failed", { commandId: v.record.commandId, err: e });
      }
    }
  }

  async #casAndSend(v: VersionedCommand, next: CommandRecord, now: number, online: boolean): Promise<void> {
    // Persist the attempt before sending it: the CAS winner is the only sender of this attempt.
    const rev = await this.#o.store.update(next, v.revision);
    if (rev === null) { this.stats.casConflicts++; return; }
    sendCommand(this.#o.nc, next, now, this.#o.tracer);
    if (online) this.stats.resentOnline++;
    else this.stats.sent++;
  }

  async #expire(v: VersionedCommand, now: number): Promise<void> {
    const next = afterExpire(v.record, now);
    const rev = await this.#o.store.update(next, v.revision);
    if (rev === null) { this.stats.casConflicts++; return; }
    this.stats.expired++;
    publishCommandEvent(this.#o.nc, next, this.#o.nodeId);
  }

  async #onOnline(deviceId: string, data: Uint8Array): Promise<void> {
    if (!isOnlineSignal(data)) return;
    const now = this.#o.nowMs();
    for (const v of this.#o.store.pendingFor(deviceId)) {
      const next = afterOnlineSend(v.record, now, this.#o.nodeId, this.#o.retry);
      if (next) await this.#casAndSend(v, next, now, true);
    }
  }

  async #onAck(deviceId: string, data: Uint8Array): Promise<void> {
    // The one device-message decoder (cloud/records): every field that goes
    // into the command record and its events is checked there.
    const d = decodeCommandAck(deviceSubject(deviceId, Uplink.CommandAck), data, { messageBytesMax: uplinkBytesMax });
    if (!d.ok) { this.stats.unknownAcks++; return; }
    const { env, ack } = d.value;
    await withAckSpan(this.#o.tracer, deviceId, { ...env, commandId: ack.commandId, status: ack.status }, () => this.#recordAck(deviceId, ack));
  }

  async #recordAck(deviceId: string, ack: CommandAck): Promise<void> {
    for (let attempt = 0; attempt < commandWireLimits.ackCasAttemptsMax; attempt++) {
      const v = await this.#o.store.get(deviceId, ack.commandId);
      if (!v) { this.stats.unknownAcks++; return; }
      if (v.record.state === CommandState.Acked) { this.stats.duplicateAcks++; return; }
      if (v.record.state === CommandState.Expired) { this.stats.lateAcks++; return; }
      const now = this.#o.nowMs();
      const deviceExpired = ack.status === AckStatus.ACK_STATUS_EXPIRED;
      const next: CommandRecord = {
        ...v.record,
        state: deviceExpired ? CommandState.Expired : CommandState.Acked,
        ack: { status: ackStatusName(ack.status), message: ack.message, resultJson: ack.resultJson, duplicate: ack.duplicate, ackedMs: now },
        leaseOwner: "", leaseUntilMs: 0,
      };
      if (deviceExpired) next.expiredMs = now;
      const rev = await this.#o.store.update(next, v.revision);
      if (rev === null) { this.stats.casConflicts++; continue; }
      if (deviceExpired) this.stats.expired++;
      else this.stats.acked++;
      publishCommandEvent(this.#o.nc, next, this.#o.nodeId);
      return;
    }
    // Redelivered by the durable consumer (a bounded number of times).
    throw new Error(`recording the ack of command ${ack.commandId}: ${commandWireLimits.ackCasAttemptsMax} CAS conflicts in a row`);
  }

  /**
   * Graceful stop: no new ticks, stop taking acks/hellos (queue-group peers
   * get them), finish the ones received, then hand our leases back so
   * another node picks the retries up without waiting for them to lapse.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#ticking;
    await this.#acks?.stop();
    await Promise.allSettled(this.#subs.map((s) => s.drain()));
    await Promise.allSettled(this.#loops);
    for (const v of this.#o.store.allPending()) {
      if (v.record.leaseOwner !== this.#o.nodeId) continue;
      try {
        await this.#o.store.update({ ...v.record, leaseOwner: "", leaseUntilMs: 0 }, v.revision);
      } catch {
        // best effort: the lease lapses on its own
      }
    }
  }
}
