// The commands role: end-to-end reliability for commands that travel
// NATS -> MQTT at QoS 0. It
//  - re-sends pending commands with backoff until acked, out of attempts, or past the deadline;
//  - re-sends a device's pending commands when it says Hello or reports itself online;
//  - records CommandAcks (subject xsfleet.v1.dev.<id>.ack) and publishes command-acked;
//  - marks commands expired at their deadline and publishes command-expired.
// Several nodes may run it. Every step is a compare-and-set on the command's
// KV record, so each attempt, each ack and each expiry is applied by exactly
// one node; a lease in the record keeps one command's retry loop on one node
// while that node is alive, and lets another take over when it is not.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { AckStatus, decodeEnvelope, type CommandAck } from "../../shared/proto/xsfleet.gen";
import { parseDeviceAddress, Uplink } from "../../shared/topics";
import { allDevicesSubject } from "../subjects";
import type { Logger } from "../base";
import { isOnlineSignal } from "../registry";
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
}

export interface CommandWorkerOptions {
  nc: NatsConnection;
  store: CommandStore;
  nodeId: string;
  limits: CommandLimits;
  retry: CommandRetrySettings;
  log: Logger;
  nowMs?: () => number;
  random?: () => number;
  /** Spans for downlinks and acks (spans.ts); null: off. */
  tracer?: Tracer | null;
}

export class CommandWorker {
  readonly #o: Required<CommandWorkerOptions>;
  readonly stats: CommandWorkerStats = { sent: 0, resentOnline: 0, acked: 0, expired: 0, duplicateAcks: 0, unknownAcks: 0, lateAcks: 0, casConflicts: 0, errors: 0 };
  #subs: Subscription[] = [];
  #loops: Promise<void>[] = [];
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #stopping = false;

  constructor(o: CommandWorkerOptions) {
    this.#o = { nowMs: Date.now, random: Math.random, tracer: null, ...o };
  }

  start(): void {
    const { nc } = this.#o;
    const ack = nc.subscribe(allDevicesSubject(Uplink.CommandAck), { queue: commandsQueueGroup });
    const hello = nc.subscribe(allDevicesSubject(Uplink.Hello), { queue: commandsQueueGroup });
    const status = nc.subscribe(allDevicesSubject(Uplink.Status), { queue: commandsQueueGroup });
    this.#subs = [ack, hello, status];
    this.#loops = [this.#consume(ack, (id, data) => this.#onAck(id, data)), this.#consume(hello, (id, data) => this.#onOnline(id, data)), this.#consume(status, (id, data) => this.#onOnline(id, data))];
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
    let env;
    try {
      env = decodeEnvelope(data);
    } catch {
      env = undefined;
    }
    const ack = env?.commandAck;
    if (!env || !ack || !commandWireLimits.commandIdPattern.test(ack.commandId)) { this.stats.unknownAcks++; return; }
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
    this.stats.errors++;
    this.#o.log.warn("gave up recording a command ack after repeated conflicts; the device's next ack will retry", { deviceId, commandId: ack.commandId });
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
