// Actuator commands, executed at most once per command id.
//
// The cloud resends a command (QoS 0 on nats-server 2.9) until it sees the
// CommandAck or the deadline passes. The device remembers the acks of the
// last `recentCommandsMax` ids (persisted, key "cmds"): a repeated id gets
// the same ack again with duplicate = true and is not executed again. A
// command whose deadline has passed is answered EXPIRED and not executed.
import {
  AckStatus,
  createCommandAck,
  decodeCommandAck,
  encodeCommandAck,
  type Command,
  type CommandAck,
} from "../../shared/proto/xsfleet.gen";
import { Reader, Writer, bytesSize, defaultDecodeLimits } from "../../shared/proto/wire";
import type { Storage } from "../platform";

export const recentCommandsMax = 32;
/** Longer ids are rejected: they would bloat the persisted set. */
export const commandIdBytesMax = 64;
const storageKey = "cmds";

export interface CommandResult {
  status: AckStatus;
  message?: string;
  resultJson?: string;
}

/** A command implementation. Throwing counts as FAILED with the error message. */
export type CommandHandler = (argsJson: string, command: Command) => CommandResult;

export const CommandOutcome = Object.freeze({ Executed: 0, Duplicate: 1, Expired: 2, Rejected: 3 } as const);
export type CommandOutcome = (typeof CommandOutcome)[keyof typeof CommandOutcome];

export interface CommandDecision {
  ack: CommandAck;
  outcome: CommandOutcome;
}

export class CommandProcessor {
  readonly #storage: Storage;
  readonly #handlers: Readonly<Record<string, CommandHandler>>;
  /** Oldest first; at most recentCommandsMax. */
  readonly #recent: CommandAck[] = [];

  constructor(storage: Storage, handlers: Readonly<Record<string, CommandHandler>>) {
    this.#storage = storage;
    this.#handlers = handlers;
    this.#load();
  }

  /** Decides and (at most once per id) executes; the ack is persisted before it is returned. */
  handle(cmd: Command, wallMs: number): CommandDecision {
    if (cmd.commandId.length === 0 || cmd.commandId.length > commandIdBytesMax) {
      // Without a usable id there is nothing to deduplicate on: refuse, do not remember.
      const ack = createCommandAck({ commandId: cmd.commandId.slice(0, commandIdBytesMax), status: AckStatus.ACK_STATUS_REJECTED, message: "command id must be 1-64 characters" });
      return { ack, outcome: CommandOutcome.Rejected };
    }
    const seen = this.#find(cmd.commandId);
    if (seen !== undefined) return { ack: { ...seen, duplicate: true }, outcome: CommandOutcome.Duplicate };
    let ack: CommandAck;
    let outcome: CommandOutcome;
    if (cmd.deadlineMs > 0 && wallMs > cmd.deadlineMs) {
      ack = createCommandAck({ commandId: cmd.commandId, status: AckStatus.ACK_STATUS_EXPIRED, message: `deadline ${cmd.deadlineMs} passed at ${wallMs}` });
      outcome = CommandOutcome.Expired;
    } else {
      const handler = Object.prototype.hasOwnProperty.call(this.#handlers, cmd.name) ? this.#handlers[cmd.name] : undefined;
      if (handler === undefined) {
        ack = createCommandAck({ commandId: cmd.commandId, status: AckStatus.ACK_STATUS_REJECTED, message: `unknown command ${JSON.stringify(cmd.name)}` });
        outcome = CommandOutcome.Rejected;
      } else {
        ack = run(handler, cmd);
        outcome = CommandOutcome.Executed;
      }
    }
    this.#remember(ack);
    return { ack, outcome };
  }

  /** Ids remembered, oldest first (tests, diagnostics). */
  recentIds(): string[] {
    return this.#recent.map((a) => a.commandId);
  }

  #find(id: string): CommandAck | undefined {
    for (let i = this.#recent.length - 1; i >= 0; i--) if (this.#recent[i]!.commandId === id) return this.#recent[i];
    return undefined;
  }

  #remember(ack: CommandAck): void {
    if (this.#recent.length >= recentCommandsMax) this.#recent.shift();
    this.#recent.push(ack);
    this.#storage.write(storageKey, encodeRecent(this.#recent));
  }

  #load(): void {
    const bytes = this.#storage.read(storageKey);
    if (bytes === undefined) return;
    try {
      const acks = decodeRecent(bytes);
      for (const a of acks.slice(-recentCommandsMax)) this.#recent.push(a);
    } catch {
      // A corrupt set only weakens deduplication of commands still being retried.
      this.#recent.length = 0;
    }
  }
}

function run(handler: CommandHandler, cmd: Command): CommandAck {
  try {
    const r = handler(cmd.argsJson, cmd);
    return createCommandAck({ commandId: cmd.commandId, status: r.status, message: r.message ?? "", resultJson: r.resultJson ?? "" });
  } catch (e) {
    return createCommandAck({ commandId: cmd.commandId, status: AckStatus.ACK_STATUS_FAILED, message: String((e as Error)?.message ?? e) });
  }
}

// Persisted set: a sequence of length-prefixed CommandAck encodings.
function encodeRecent(acks: readonly CommandAck[]): Uint8Array {
  const encoded = acks.map((a) => encodeCommandAck({ ...a, duplicate: false }));
  let size = 0;
  for (const e of encoded) size += bytesSize(e);
  const w = new Writer(size);
  for (const e of encoded) w.bytes(e);
  return w.finish();
}

function decodeRecent(bytes: Uint8Array): CommandAck[] {
  const r = new Reader(bytes, defaultDecodeLimits);
  const out: CommandAck[] = [];
  while (!r.done()) {
    if (out.length > recentCommandsMax * 2) throw new Error("too many remembered commands");
    out.push(decodeCommandAck(r.bytes()));
  }
  return out;
}
