// Tiny flag parser for the CLI: declared options only, typed values, and
// errors that say what to type instead.
import { parseArgs } from "node:util";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  default?: string | boolean;
  /** Shown in help as the value's name, e.g. "N" or "URL". */
  value?: string;
  multiple?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  examples?: string[];
}

export class UsageError extends Error {
  constructor(message: string, readonly command: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` <${o.value ?? "value"}>` : ""}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : "";
    return `  ${flag.padEnd(30)} ${o.description}${def}`;
  });
  rows.push(`  ${"-h, --help".padEnd(30)} show this help`);
  const ex = spec.examples?.length ? `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}\n` : "";
  return `${spec.summary}\n\nUsage: ${spec.usage}\n\nOptions:\n${rows.join("\n")}\n${ex}`;
}

export type Parsed = Record<string, string | boolean | string[] | undefined>;

/** Parses argv for a command; returns null when --help was asked (help already printed). */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed | null {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText(spec));
    return null;
  }
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
    const out: Parsed = {};
    for (const [name, o] of Object.entries(spec.options)) out[name] = (values as Parsed)[name] ?? o.default;
    return out;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]}`, spec.name);
  }
}

export function intOption(p: Parsed, name: string, min: number, max: number): number {
  const raw = p[name];
  const v = typeof raw === "string" ? Number(raw) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`, "");
  }
  return v;
}

export function numberOption(p: Parsed, name: string, min: number, max: number): number {
  const raw = p[name];
  const v = typeof raw === "string" ? Number(raw) : NaN;
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`, "");
  }
  return v;
}

export function stringOption(p: Parsed, name: string): string | undefined {
  const v = p[name];
  return typeof v === "string" ? v : undefined;
}
