// Accepting a command: validate, persist the pending record (compare-and-set
// create, so a client-chosen command id is idempotent), send the first
// attempt, and optionally wait for the outcome. Retries, acks and expiry are
// the worker's job (cloud/commands/worker.ts) on whichever node runs the
// commands role; the waiter learns the outcome from the command events and
// confirms it from the KV record.
import { randomBytes } from "node:crypto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { isDeviceId } from "../../shared/topics";
import { DeviceEvent, deviceEventSubject } from "../subjects";
import type { CommandLimits, CommandRetrySettings } from "./settings";
import { sendCommand } from "./downlink";
import { submitTraceparent } from "./spans";
import type { CommandStore } from "./store";
import { CommandError, CommandState, commandWireLimits, outcomeOf, type CommandEvent, type CommandOutcome, type CommandRecord } from "./types";

export interface SendCommandInput {
  deviceId: string;
  name: string;
  /** Arguments as UTF-8 JSON text (validated). */
  argsJson: string;
  /** Relative deadline from now. */
  timeoutMs: number;
  /** Client-chosen id makes the send idempotent; generated when absent. */
  commandId?: string;
}

export interface SubmitResult {
  outcome: CommandOutcome;
  /** False when the command id existed already (an idempotent repeat). */
  created: boolean;
}

/** Extra wait after the deadline for the worker's expiry event. */
const expiryGraceMs = 3000;

export function newCommandId(): string {
  return `c${Date.now().toString(36)}${randomBytes(8).toString("hex")}`;
}

export class CommandSubmitter {
  readonly #nc: NatsConnection;
  readonly #store: CommandStore;
  readonly #limits: CommandLimits;
  readonly #retry: CommandRetrySettings;
  readonly #now: () => number;
  /** Waiters end early (with the current state) when the node shuts down. */
  readonly #abort = new AbortController();
  readonly #tracer: Tracer | null;

  constructor(nc: NatsConnection, store: CommandStore, limits: CommandLimits, retry: CommandRetrySettings, nowMs: () => number = Date.now, tracer: Tracer | null = null) {
    this.#tracer = tracer;
    this.#nc = nc;
    this.#store = store;
    this.#limits = limits;
    this.#retry = retry;
    this.#now = nowMs;
  }

  validate(input: SendCommandInput): void {
    if (typeof input.deviceId !== "string" || !isDeviceId(input.deviceId)) throw new CommandError("invalid", `deviceId must be 1-64 characters from A-Z a-z 0-9 _ -, got ${JSON.stringify(input.deviceId)}`);
    if (typeof input.name !== "string" || !commandWireLimits.namePattern.test(input.name)) throw new CommandError("invalid", `name must be 1-64 characters from A-Z a-z 0-9 _ . : -, got ${JSON.stringify(input.name)}`);
    if (input.commandId !== undefined && (typeof input.commandId !== "string" || !commandWireLimits.commandIdPattern.test(input.commandId))) {
      throw new CommandError("invalid", `commandId must be 1-64 characters from A-Z a-z 0-9 _ -, got ${JSON.stringify(input.commandId)}`);
    }
    if (typeof input.argsJson !== "string" || Buffer.byteLength(input.argsJson) > commandWireLimits.argsJsonBytesMax) {
      throw new CommandError("invalid", `args must encode to at most ${commandWireLimits.argsJsonBytesMax} bytes of JSON`);
    }
    if (input.argsJson !== "") {
      try { JSON.parse(input.argsJson); } catch { throw new CommandError("invalid", "argsJson is not valid JSON"); }
    }
    const max = this.#limits.commandDeadlineMsMax;
    if (typeof input.timeoutMs !== "number" || !Number.isInteger(input.timeoutMs) || input.timeoutMs < commandWireLimits.deadlineMsMin || input.timeoutMs > max) {
      throw new CommandError("invalid", `timeoutMs must be an integer from ${commandWireLimits.deadlineMsMin} to ${max}, got ${JSON.stringify(input.timeoutMs)}`);
    }
  }

  /** Persists and sends the first attempt. Throws CommandError for bad input or full queues. */
  async submit(input: SendCommandInput): Promise<SubmitResult> {
    this.validate(input);
    const commandId = input.commandId ?? newCommandId();
    if (input.commandId !== undefined) {
      const existing = await this.#store.get(input.deviceId, commandId);
      if (existing) return this.#repeat(existing.record, input);
    }
    if (this.#store.pendingCount >= this.#limits.commandsPendingMax) {
      throw new CommandError("too_many_pending", `the fleet has ${this.#store.pendingCount} pending commands (limit ${this.#limits.commandsPendingMax}); retry later`);
    }
    if (this.#store.pendingFor(input.deviceId).length >= this.#limits.commandsPerDeviceMax) {
      throw new CommandError("too_many_pending", `device ${input.deviceId} has ${this.#limits.commandsPerDeviceMax} pending commands (the limit); wait for them to be acknowledged or expire`);
    }
    const now = this.#now();
    const record: CommandRecord = {
      commandId, deviceId: input.deviceId, name: input.name, argsJson: input.argsJson,
      issuedMs: now, deadlineMs: now + input.timeoutMs, state: CommandState.Pending,
      attempt: 1, timedAttempts: 0, onlineResends: 0,
      nextAttemptMs: now + this.#retry.retryInitialMs, leaseOwner: "", leaseUntilMs: 0,
    };
    const traceparent = submitTraceparent(this.#tracer);
    if (traceparent !== "") record.traceparent = traceparent;
    // Persist before send: a crash after this line still gets the command delivered by a worker.
    const revision = await this.#store.create(record);
    if (revision === null) {
      const raced = await this.#store.get(input.deviceId, commandId);
      if (raced) return this.#repeat(raced.record, input);
      throw new CommandError("conflict", `command ${commandId} could not be stored; retry`);
    }
    sendCommand(this.#nc, record, now, this.#tracer);
    return { outcome: outcomeOf(record), created: true };
  }

  #repeat(existing: CommandRecord, input: SendCommandInput): SubmitResult {
    if (existing.name !== input.name || existing.argsJson !== input.argsJson) {
      throw new CommandError("conflict", `command id ${existing.commandId} was already used for a different command on ${input.deviceId}; use a new id`);
    }
    return { outcome: outcomeOf(existing), created: false };
  }

  /** Submits, then waits for the ack or the deadline (plus a short grace for the expiry event). */
  async submitAndWait(input: SendCommandInput): Promise<SubmitResult> {
    this.validate(input);
    // Subscribe before sending so a fast ack cannot slip past.
    const subs = [DeviceEvent.CommandAcked, DeviceEvent.CommandExpired].map((e) => this.#nc.subscribe(deviceEventSubject(input.deviceId, e)));
    try {
      const res = await this.submit(input);
      if (res.outcome.state !== CommandState.Pending) return res;
      const outcome = await this.#waitFor(subs, res.outcome);
      return { outcome, created: res.created };
    } finally {
      for (const s of subs) s.unsubscribe();
    }
  }

  async #waitFor(subs: Subscription[], pending: CommandOutcome): Promise<CommandOutcome> {
    const waitMs = Math.max(0, pending.deadlineMs - this.#now()) + expiryGraceMs;
    const event = await new Promise<CommandEvent | null>((resolve) => {
      const signal = this.#abort.signal;
      const done = (ev: CommandEvent | null): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve(ev);
      };
      const onAbort = (): void => done(null);
      const timer = setTimeout(() => done(null), waitMs);
      if (signal.aborted) { done(null); return; }
      signal.addEventListener("abort", onAbort, { once: true });
      for (const sub of subs) {
        void (async () => {
          for await (const m of sub) {
            try {
              const ev = m.json<CommandEvent>();
              if (ev.commandId === pending.commandId) { done(ev); return; }
            } catch {
              // not a command event; ignore
            }
          }
        })();
      }
    });
    if (event) {
      const { event: _e, nodeId: _n, ...outcome } = event;
      return outcome;
    }
    // No event (lost, no worker, or shutting down): the KV record is authoritative.
    const cur = await this.#store.get(pending.deviceId, pending.commandId);
    return cur ? outcomeOf(cur.record) : pending;
  }

  /** Ends all waits now; they reply with the state persisted so far. */
  abortWaits(): void {
    this.#abort.abort();
  }
}
