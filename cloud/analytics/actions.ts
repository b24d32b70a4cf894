// A rule's actions, run for each alert transition whose state they name
// (`on: "raise" | "clear"`): a command to a device through the commands
// submitter (cloud/commands: persisted, retried until the device's
// CommandAck), an event on `xsfleet.v1.ruleevents.<rule>`, or a webhook
// (POST, timeout, bounded retries with backoff, failures counted).
//
// Idempotent per episode: each action's key is `<transition id>.<index>`;
// the command id is derived from it (the submitter treats a repeated id as
// the same command), the event and the webhook carry it
// (`idempotencyKey`, header `Idempotency-Key`). A replay after a takeover
// runs the actions of the replayed transitions again under the same keys.
import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ActionDef, AlertTransition } from "../../shared/stream";
import { sleep, type Logger } from "../base";
import type { SendCommandInput } from "../commands";
import { ruleEventSubject } from "../subjects";
import type { AnalyticsSettings } from "./settings";
import type { AnalyticsStats } from "./types";

/** What actions need of the commands capability (CommandSubmitter.submit). */
export interface CommandPort {
  submit(input: SendCommandInput): Promise<unknown>;
}

/** The command id of an action: stable per (transition, action index), within the commands' id pattern. */
export function actionCommandId(transitionId: string, index: number): string {
  return `r${createHash("sha256").update(`${transitionId}.${index}`).digest("hex").slice(0, 40)}`;
}

export interface ActionDeps {
  nc: NatsConnection;
  commands: CommandPort | null;
  settings: Pick<AnalyticsSettings, "webhookTimeoutMs" | "webhookAttemptsMax" | "webhookBackoffMs" | "commandTimeoutMs">;
  stats: AnalyticsStats;
  log: Logger;
  /** fetch (tests may inject one). */
  fetch?: typeof fetch;
}

export class ActionRunner {
  readonly #d: ActionDeps;

  constructor(d: ActionDeps) {
    this.#d = d;
  }

  /** Runs the actions of `t` one after the other; a failed action is counted and logged, never thrown. */
  async run(t: AlertTransition): Promise<void> {
    const on = t.state === "raised" ? "raise" : "clear";
    const actions = (t.actions as readonly ActionDef[]).map((a, i) => ({ a, i })).filter(({ a }) => a.on === on);
    for (const { a, i } of actions) {
      const key = `${t.id}.${i}`;
      try {
        await this.#runOne(t, a, i, key);
        this.#d.stats.actionsRun++;
      } catch (err) {
        this.#d.stats.actionsFailed++;
        this.#d.log.warn("analytics: action failed", { rule: t.ruleId, key: t.key, action: a.kind, error: String(err) });
      }
    }
  }

  async #runOne(t: AlertTransition, a: ActionDef, index: number, key: string): Promise<void> {
    const body = { idempotencyKey: key, ruleId: t.ruleId, key: t.key, episode: t.episode, state: t.state, t: t.t, reason: t.reason, ...(t.value !== undefined ? { value: t.value } : {}) };
    switch (a.kind) {
      case "command": {
        if (!this.#d.commands) throw new Error("no command submitter on this node");
        await this.#d.commands.submit({
          deviceId: a.device, name: a.command, argsJson: a.args === undefined ? "" : JSON.stringify(a.args),
          timeoutMs: this.#d.settings.commandTimeoutMs, commandId: actionCommandId(t.id, index),
        });
        return;
      }
      case "event":
        this.#d.nc.publish(ruleEventSubject(t.ruleId), JSON.stringify(body));
        return;
      case "webhook":
        await this.#webhook(a.url, key, body);
        return;
    }
  }

  async #webhook(url: string, key: string, body: object): Promise<void> {
    const { webhookTimeoutMs, webhookAttemptsMax, webhookBackoffMs } = this.#d.settings;
    const f = this.#d.fetch ?? fetch;
    let last = "";
    for (let attempt = 0; attempt < webhookAttemptsMax; attempt++) {
      if (attempt > 0) await sleep(webhookBackoffMs * 2 ** (attempt - 1));
      this.#d.stats.webhookAttempts++;
      try {
        const r = await f(url, {
          method: "POST", headers: { "content-type": "application/json", "idempotency-key": key },
          body: JSON.stringify(body), signal: AbortSignal.timeout(webhookTimeoutMs),
        });
        if (r.ok) return;
        last = `HTTP ${r.status}`;
        // A client error will not get better by retrying.
        if (r.status >= 400 && r.status < 500 && r.status !== 429) break;
      } catch (err) {
        last = String(err);
      }
    }
    throw new Error(`webhook ${url}: ${last}`);
  }
}
