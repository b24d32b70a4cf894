// The analytics rules as the control plane stores them (cloud/control
// rules.ts: a Raft-replicated table, each put checked by validateRule): a
// typed client for the API and the CLI, and the watch through which every
// analytics node applies the current set (the control plane has no push: it
// polls the list and re-applies when its tableVersion moved).
import { checkRuleJson, CommandKind, ControlError, type Proposer, type RuleRecord } from "../control";
import type { RuleDef } from "../../shared/stream";
import type { Logger } from "../base";

export class RuleStoreError extends Error {
  constructor(readonly code: "invalid" | "conflict" | "not_found" | "limit" | "unavailable", message: string, readonly errors: string[] = []) {
    super(message);
  }
}

function storeError(code: string, message: string): RuleStoreError {
  switch (code) {
    case ControlError.InvalidCommand: return new RuleStoreError("invalid", message, message.replace(/^invalid rule: /, "").split("; "));
    case ControlError.Conflict: return new RuleStoreError("conflict", message);
    case ControlError.NotFound: return new RuleStoreError("not_found", message);
    case ControlError.LimitExceeded: return new RuleStoreError("limit", message);
    default: return new RuleStoreError("unavailable", `${code}: ${message}`);
  }
}

export class ControlPlaneRules {
  readonly #propose: Proposer;

  constructor(propose: Proposer) {
    this.#propose = propose;
  }

  async list(): Promise<{ rules: RuleRecord[]; tableVersion: number }> {
    const r = await this.#propose({ kind: CommandKind.RuleList });
    if (!r.ok) throw storeError(r.code, r.message);
    if (r.kind !== CommandKind.RuleList) throw new RuleStoreError("unavailable", `unexpected reply ${r.kind}`);
    return { rules: [...r.value.rules], tableVersion: r.value.tableVersion };
  }

  /** Validates here first (clear errors without a round trip), then puts on the control plane (which validates again). */
  async put(rule: unknown, expectedVersion?: number): Promise<RuleRecord> {
    const ruleJson = JSON.stringify(rule) ?? "";
    const v = checkRuleJson(ruleJson);
    if (!v.ok) throw new RuleStoreError("invalid", `invalid rule: ${v.errors.join("; ")}`, v.errors);
    const r = await this.#propose({ kind: CommandKind.RulePut, ruleJson, ...(expectedVersion !== undefined ? { expectedVersion } : {}) });
    if (!r.ok) throw storeError(r.code, r.message);
    if (r.kind !== CommandKind.RulePut) throw new RuleStoreError("unavailable", `unexpected reply ${r.kind}`);
    return r.value;
  }

  async delete(ruleId: string): Promise<RuleRecord> {
    const r = await this.#propose({ kind: CommandKind.RuleDelete, ruleId });
    if (!r.ok) throw storeError(r.code, r.message);
    if (r.kind !== CommandKind.RuleDelete) throw new RuleStoreError("unavailable", `unexpected reply ${r.kind}`);
    return r.value;
  }
}

/** The rule definitions of stored records (a record that no longer validates is skipped: the table only takes valid ones). */
export function ruleDefs(records: readonly RuleRecord[]): RuleDef[] {
  const out: RuleDef[] = [];
  for (const r of records) {
    const v = checkRuleJson(r.ruleJson);
    if (v.ok) out.push(v.rule);
  }
  return out;
}

/** Polls the rules table; calls `apply` with the full set whenever its tableVersion moved. */
export class RulesWatch {
  readonly #rules: ControlPlaneRules;
  readonly #apply: (rules: RuleDef[]) => void;
  readonly #log: Logger;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | null = null;
  #seen = -1;
  #running: Promise<void> | null = null;

  constructor(rules: ControlPlaneRules, apply: (rules: RuleDef[]) => void, log: Logger, everyMs = 2_000) {
    this.#rules = rules;
    this.#apply = apply;
    this.#log = log;
    this.#everyMs = everyMs;
  }

  start(): void {
    this.#timer = setInterval(() => void this.poll(), this.#everyMs);
    void this.poll();
  }

  /** One look (never throws; a poll running is not started twice). */
  poll(): Promise<void> {
    this.#running ??= (async () => {
      try {
        const { rules, tableVersion } = await this.#rules.list();
        if (tableVersion === this.#seen) return;
        this.#seen = tableVersion;
        this.#apply(ruleDefs(rules));
      } catch (e) {
        this.#log.warn("analytics: rules unavailable; keeping the current set", { error: String(e) });
      }
    })().finally(() => { this.#running = null; });
    return this.#running;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
