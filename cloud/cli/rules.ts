// `xsfleet rules list|put <file>|delete <id>`: the alert rules of the
// analytics role (stored on the Raft control plane, docs/analytics.md
// "Rules API") through the management API. A bad definition is refused with
// every problem named (shared/stream validateRule), and nothing is stored.
import { readFileSync } from "node:fs";
import { ApiClient, ApiError, ApiEndpoint } from "../api";
import { parseCommand, stringOption, UsageError, type CommandSpec, type Parsed } from "./args";
import { cliConnect, connectionOptionSpecs } from "./cli-connection";

export const rulesSpecs: Record<"list" | "put" | "delete", CommandSpec> = {
  list: {
    name: "rules list",
    summary: "List the stored rules (id, version, condition).",
    usage: "xsfleet rules list [--json]",
    options: { ...connectionOptionSpecs, json: { type: "boolean", description: "print the records as JSON" } },
  },
  put: {
    name: "rules put",
    summary: "Create or replace rules from a JSON file (one rule object or an array of them); every analytics node applies them within seconds.",
    usage: "xsfleet rules put <file.json> [--expect-version N]",
    options: {
      ...connectionOptionSpecs,
      "expect-version": { type: "string", value: "N", description: "refuse unless the rule is at this version (0: only create)" },
    },
    examples: ["xsfleet rules put docs/examples/humidity-fan.json"],
  },
  delete: {
    name: "rules delete",
    summary: "Delete a rule (its raised alerts clear, with their clear actions).",
    usage: "xsfleet rules delete <rule-id>",
    options: { ...connectionOptionSpecs },
  },
};

function help(): string {
  return `xsfleet rules <action> [options]\n\nActions:\n${Object.entries(rulesSpecs).map(([a, s]) => `  ${a.padEnd(8)} ${s.summary}`).join("\n")}\n\n` +
    "Run `xsfleet rules <action> --help` for its options. Rule format: docs/analytics.md.\n";
}

async function withApi<T>(p: Parsed, f: (api: ApiClient) => Promise<T>): Promise<T> {
  const nc = await cliConnect(p, "xsfleet-cli");
  try {
    return await f(new ApiClient(nc, { timeoutMs: 30_000 }));
  } finally {
    await nc.close();
  }
}

export async function runRules(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (!action || action === "--help" || action === "-h") {
    process.stdout.write(help());
    return 0;
  }
  const spec = rulesSpecs[action as keyof typeof rulesSpecs];
  if (!spec) throw new UsageError(`unknown action "${action}"; use list, put or delete`, "rules");
  // The file or rule id comes right after the action; options follow.
  const target = rest[0] !== undefined && !rest[0].startsWith("-") ? rest[0] : undefined;
  const p = parseCommand(spec, target === undefined ? rest : rest.slice(1));
  if (!p) return 0;
  if (action === "list") {
    const r = await withApi(p, (api) => api.call(ApiEndpoint.RulesList, {}));
    if (p.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else process.stdout.write(r.rules.length === 0 ? "no rules\n" : `${r.rules.map((x) => `${x.id}  v${x.version}  ${x.ruleJson}`).join("\n")}\n`);
    return 0;
  }
  if (action === "put") {
    const file = target;
    if (!file) throw new UsageError("the rules file is required: xsfleet rules put <file.json>", "rules put");
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new UsageError(`${file}: ${(e as Error).message}`, "rules put");
    }
    const ev = stringOption(p, "expect-version");
    const expectedVersion = ev === undefined ? undefined : Number(ev);
    if (expectedVersion !== undefined && !(Number.isSafeInteger(expectedVersion) && expectedVersion >= 0)) throw new UsageError("--expect-version must be an integer >= 0", "rules put");
    const rules = Array.isArray(json) ? json : [json];
    let failed = 0;
    await withApi(p, async (api) => {
      for (const [i, rule] of rules.entries()) {
        try {
          const r = await api.call(ApiEndpoint.RulesPut, { rule: rule as object, ...(expectedVersion !== undefined ? { expectedVersion } : {}) });
          process.stdout.write(`${r.rule.id}: stored, version ${r.rule.version}\n`);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          failed++;
          const id = typeof rule === "object" && rule !== null && typeof (rule as { id?: unknown }).id === "string" ? (rule as { id: string }).id : `#${i + 1}`;
          process.stderr.write(`${id}: refused (${e.code}):\n  ${e.message.replace(/^invalid rule: /, "").split("; ").join("\n  ")}\n`);
        }
      }
    });
    return failed === 0 ? 0 : 1;
  }
  const ruleId = target;
  if (!ruleId) throw new UsageError("the rule id is required: xsfleet rules delete <rule-id>", "rules delete");
  const r = await withApi(p, (api) => api.call(ApiEndpoint.RulesDelete, { ruleId }));
  process.stdout.write(`${r.rule.id}: deleted (was version ${r.rule.version})\n`);
  return 0;
}
