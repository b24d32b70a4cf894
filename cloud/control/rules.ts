// The alert rules of the analytics role, replicated by Raft: one table of
// RuleRecords keyed by rule id. A put is checked by shared/stream's
// validateRule (the same check the rule engine makes, on every replica: a
// refused rule never enters the table, its errors come back in the failure)
// and may carry an expected version (0 = create only), so two operators
// editing one rule do not overwrite each other silently. `tableVersion`
// grows with every change: analytics nodes poll the list and re-apply the
// set when it moved (cloud/analytics rules-watch.ts).
//
// Bounds: rulesMax rules, ruleBytesMax per rule (canonical JSON).
import { validateRule } from "../../shared/stream";
import { Fields, FieldError } from "./fields";
import type { ControlLimits } from "./limits";
import {
  CommandKind, ControlError, failure, success,
  type ResultFor, type RuleDeleteCommand, type RulePutCommand, type RuleRecord,
} from "./types";

export interface RulesDump {
  tableVersion: number;
  rules: RuleRecord[];
}

export class RuleTable {
  readonly #limits: ControlLimits;
  readonly #rules = new Map<string, RuleRecord>();
  #tableVersion = 0;

  constructor(limits: ControlLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#rules.size;
  }

  put(cmd: RulePutCommand, timeMs: number): ResultFor<typeof CommandKind.RulePut> {
    const v = checkRuleJson(cmd.ruleJson);
    if (!v.ok) return failure(ControlError.InvalidCommand, `invalid rule: ${v.errors.join("; ")}`);
    const id = v.rule.id;
    const cur = this.#rules.get(id);
    const version = cur?.version ?? 0;
    if (cmd.expectedVersion !== undefined && cmd.expectedVersion !== version) {
      return failure(ControlError.Conflict, `rule ${id} is at version ${version}, not ${cmd.expectedVersion}`, { current: version });
    }
    if (!cur && this.#rules.size >= this.#limits.rulesMax) return failure(ControlError.LimitExceeded, `${this.#limits.rulesMax} rules stored (rulesMax); delete one first`);
    const record: RuleRecord = { id, version: version + 1, ruleJson: cmd.ruleJson, updatedAtMs: timeMs };
    this.#rules.set(id, record);
    this.#tableVersion++;
    return success(CommandKind.RulePut, record);
  }

  delete(cmd: RuleDeleteCommand): ResultFor<typeof CommandKind.RuleDelete> {
    const cur = this.#rules.get(cmd.ruleId);
    if (!cur) return failure(ControlError.NotFound, `no rule ${cmd.ruleId}`);
    this.#rules.delete(cmd.ruleId);
    this.#tableVersion++;
    return success(CommandKind.RuleDelete, cur);
  }

  list(): ResultFor<typeof CommandKind.RuleList> {
    return success(CommandKind.RuleList, { rules: this.dump().rules, tableVersion: this.#tableVersion });
  }

  dump(): RulesDump {
    return { tableVersion: this.#tableVersion, rules: [...this.#rules.keys()].sort().map((id) => this.#rules.get(id)!) };
  }

  load(v: unknown, path = "snapshot.rules"): void {
    const f = new Fields(v, path);
    const tableVersion = f.int("tableVersion", 0, Number.MAX_SAFE_INTEGER);
    const items = f.array("rules", this.#limits.rulesMax);
    f.done();
    this.#rules.clear();
    items.forEach((item, i) => {
      const at = `${path}.rules[${i}]`;
      const g = new Fields(item, at);
      const r: RuleRecord = {
        id: g.str("id", this.#limits.nameBytesMax),
        version: g.int("version", 1, Number.MAX_SAFE_INTEGER),
        ruleJson: g.str("ruleJson", this.#limits.ruleBytesMax),
        updatedAtMs: g.int("updatedAtMs", 0, Number.MAX_SAFE_INTEGER),
      };
      g.done();
      const ok = checkRuleJson(r.ruleJson);
      if (!ok.ok || ok.rule.id !== r.id) throw new FieldError(`${at}: not a valid rule with id ${r.id}`);
      if (this.#rules.has(r.id)) throw new FieldError(`${at}: duplicate rule ${r.id}`);
      this.#rules.set(r.id, r);
    });
    this.#tableVersion = tableVersion;
  }
}

/** validateRule over JSON text (text that does not parse is refused the same way). */
export function checkRuleJson(text: string): ReturnType<typeof validateRule> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [`not JSON: ${(e as Error).message}`] };
  }
  return validateRule(json);
}
