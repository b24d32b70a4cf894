// Cloud node configuration: a JSON file, then XSFLEET_* environment
// variables, then command-line flags, merged in that order (later wins) and
// validated into a typed CloudConfig. Every problem is collected and
// reported together, each naming the setting, where its value came from and
// what to change — operators fix configs from logs, not from stack traces.
import { readFileSync, accessSync, constants } from "node:fs";
import { CloudRole, cloudRoles, isCloudRole, LogLevel, nodeIdPattern, type IntRanges, type SettingsReader } from "../base";
import { apiLimitRanges, defaultApiLimits, type ApiLimits } from "../api";
import { commandLimitRanges, commandRetryProblems, commandRetryRanges, defaultCommandLimits, defaultCommandRetry, type CommandLimits, type CommandRetrySettings } from "../commands";
import { parseIngestConfig } from "../ingest";
import { natsSettingKeys, readNatsSettings, type NatsSettings } from "../nats";
import { RegistryBackend, registryBackends } from "../registry";
import { defaultLockSettings, readLockSettings, type LockSettings } from "../lock";
import { defaultCacheSettings, readCacheSettings, type CacheSettings } from "../cache";
import { defaultOrchestrationSettings, readOrchestrationSettings, type OrchestrationSettings } from "../recovery";
import { defaultProvisioningSettings, provisioningSettingProblems, provisioningSettingRanges, type ProvisioningSettings } from "../security";

/** Every capability's limits, as the config file's `limits` section holds them. */
export type CloudLimits = ApiLimits & CommandLimits;

export interface CloudConfig {
  nodeId: string;
  roles: CloudRole[];
  nats: NatsSettings;
  /** Replicas for the streams and KV buckets this node creates (1, 3 or 5 in practice). */
  streams: { replicas: number };
  /** Health and metrics endpoint; port null disables it, 0 picks a free port. */
  http: { host: string; port: number | null };
  /** Longest a graceful shutdown waits for in-flight work before giving up. */
  shutdownTimeoutMs: number;
  logLevel: LogLevel;
  limits: CloudLimits;
  commands: CommandRetrySettings;
  /** Passed unchanged to the ingest role (cloud/ingest/settings.ts validates it). */
  ingest: Record<string, unknown>;
  /** Where the device registry lives: NATS KV, or the Raft control plane (cloud/controlplane replicas must run). */
  registry: RegistryBackend;
  /** The orchestration role: singleton leases, scheduled backups (cloud/recovery/settings.ts). */
  orchestration: OrchestrationSettings;
  /** The lock service of the node's own mutual exclusion (cloud/lock/settings.ts). */
  lock: LockSettings;
  /** The distributed cache: the backend this node's reads use, and its cache node's bounds (cloud/cache/settings.ts). */
  cache: CacheSettings;
  /** The trust directory (trust.json, signing seeds, sys-push.creds); the provisioning role needs it. */
  trustDir?: string;
  provisioning: ProvisioningSettings;
}

export const defaultLimits: Readonly<CloudLimits> = Object.freeze({ ...defaultApiLimits, ...defaultCommandLimits });
const limitRanges: IntRanges<CloudLimits> = { ...apiLimitRanges, ...commandLimitRanges };

export function defaultConfig(): CloudConfig {
  return {
    nodeId: "",
    roles: ["ingest", "api", "commands"],
    nats: { servers: ["nats://127.0.0.1:4222"], name: "" },
    streams: { replicas: 1 },
    http: { host: "127.0.0.1", port: 9464 },
    shutdownTimeoutMs: 15_000,
    logLevel: "info",
    limits: { ...defaultLimits },
    commands: { ...defaultCommandRetry },
    ingest: {},
    registry: RegistryBackend.Kv,
    orchestration: defaultOrchestrationSettings(),
    lock: defaultLockSettings(),
    cache: defaultCacheSettings(),
    provisioning: { ...defaultProvisioningSettings },
  };
}

export interface ConfigIssue {
  /** Dotted path of the setting, e.g. "nats.servers". */
  path: string;
  /** Where the offending value came from, e.g. "env XSFLEET_NATS_SERVERS". */
  source: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(
      `invalid xsfleet cloud configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.path} (${i.source}): ${i.message}`).join("\n"),
    );
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** One setting as it can be given by env or flag; `kind` says how the text is parsed. */
interface SettingSpec {
  path: string;
  env: string;
  flag: string;
  kind: "string" | "list" | "int" | "port";
  help: string;
}

export const settingSpecs: readonly SettingSpec[] = [
  { path: "nodeId", env: "XSFLEET_NODE_ID", flag: "node-id", kind: "string", help: "unique node id, [A-Za-z0-9_-]{1,64} (default: xsf-<hostname>-<pid>)" },
  { path: "roles", env: "XSFLEET_ROLES", flag: "roles", kind: "list", help: `comma-separated roles: ${cloudRoles.join(", ")}` },
  { path: "nats.servers", env: "XSFLEET_NATS_SERVERS", flag: "nats-servers", kind: "list", help: "comma-separated NATS URLs (nats://host:4222)" },
  { path: "nats.credsFile", env: "XSFLEET_NATS_CREDS", flag: "nats-creds", kind: "string", help: "path to a NATS .creds file" },
  { path: "nats.user", env: "XSFLEET_NATS_USER", flag: "nats-user", kind: "string", help: "NATS user" },
  { path: "nats.pass", env: "XSFLEET_NATS_PASS", flag: "nats-pass", kind: "string", help: "NATS password" },
  { path: "nats.token", env: "XSFLEET_NATS_TOKEN", flag: "nats-token", kind: "string", help: "NATS token" },
  { path: "nats.tls.caFile", env: "XSFLEET_NATS_TLS_CA", flag: "nats-tls-ca", kind: "string", help: "CA certificate file for TLS" },
  { path: "nats.tls.certFile", env: "XSFLEET_NATS_TLS_CERT", flag: "nats-tls-cert", kind: "string", help: "client certificate file for TLS" },
  { path: "nats.tls.keyFile", env: "XSFLEET_NATS_TLS_KEY", flag: "nats-tls-key", kind: "string", help: "client key file for TLS" },
  { path: "streams.replicas", env: "XSFLEET_STREAM_REPLICAS", flag: "replicas", kind: "int", help: "replicas of streams and KV buckets (1..5)" },
  { path: "ingest.historyReplication", env: "XSFLEET_HISTORY_REPLICATION", flag: "history-replication", kind: "string", help: "replication of the history stream: sync, semi-sync or async (docs/data-plane.md)" },
  { path: "ingest.outReplication", env: "XSFLEET_OUT_REPLICATION", flag: "out-replication", kind: "string", help: "replication of the out stream XSF_OUT: sync, semi-sync or async" },
  { path: "http.host", env: "XSFLEET_HTTP_HOST", flag: "http-host", kind: "string", help: "address for /healthz and /metrics" },
  { path: "http.port", env: "XSFLEET_HTTP_PORT", flag: "http-port", kind: "port", help: "port for /healthz and /metrics; 0 = any free port, off = disabled" },
  { path: "shutdownTimeoutMs", env: "XSFLEET_SHUTDOWN_TIMEOUT_MS", flag: "shutdown-timeout-ms", kind: "int", help: "graceful shutdown budget in ms" },
  { path: "logLevel", env: "XSFLEET_LOG_LEVEL", flag: "log-level", kind: "string", help: "debug, info, warn or error" },
  { path: "registry", env: "XSFLEET_REGISTRY", flag: "registry", kind: "string", help: "device registry backend: kv (NATS KV) or control (the Raft control plane; run cloud/controlplane replicas)" },
  { path: "orchestration.leaseTtlMs", env: "XSFLEET_LEASE_TTL_MS", flag: "lease-ttl-ms", kind: "int", help: "orchestration: TTL of singleton leases (failover time after a holder dies)" },
  { path: "orchestration.backup.dir", env: "XSFLEET_BACKUP_DIR", flag: "backup-dir", kind: "string", help: "orchestration: scheduled backups go here (\"\" = off, the default)" },
  { path: "orchestration.backup.intervalMs", env: "XSFLEET_BACKUP_INTERVAL_MS", flag: "backup-interval-ms", kind: "int", help: "orchestration: time between scheduled backups" },
  { path: "orchestration.backup.retain", env: "XSFLEET_BACKUP_RETAIN", flag: "backup-retain", kind: "int", help: "orchestration: scheduled backups kept" },
  { path: "cache.backend", env: "XSFLEET_CACHE", flag: "cache", kind: "string", help: "cache of device-state and registry reads: ring (the nodes with the cache role), redis (cache.redis.host) or off" },
  { path: "orchestration.edge.jobs", env: "XSFLEET_EDGE_JOBS", flag: "edge-jobs", kind: "string", help: "orchestration: edge jobs to place on gateway/processing devices, JSON [{\"id\":\"agg-1\",\"spec\":\"aggregate;w=10000\",\"sources\":[...]}] (docs/edge.md)" },
  { path: "lock.backend", env: "XSFLEET_LOCK", flag: "lock", kind: "string", help: "lock service for leases and backup/restore exclusion: control (Raft control plane) or redis" },
  { path: "lock.redis.host", env: "XSFLEET_REDIS_HOST", flag: "redis-host", kind: "string", help: "Redis host (with --lock redis)" },
  { path: "lock.redis.port", env: "XSFLEET_REDIS_PORT", flag: "redis-port", kind: "int", help: "Redis port (with --lock redis; default 6379)" },
  { path: "trustDir", env: "XSFLEET_TRUST_DIR", flag: "trust-dir", kind: "string", help: "trust directory with trust.json, the signing seeds and sys-push.creds (the provisioning role needs it; docs/security.md)" },
];

type Raw = Record<string, unknown>;
/** Which source set each path last, for error messages. */
type Sources = Map<string, string>;

function setPath(obj: Raw, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]!];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cur[parts[i]!] = {};
    cur = cur[parts[i]!] as Raw;
  }
  cur[parts[parts.length - 1]!] = value;
}

function isPlainObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Records the source of every leaf in `obj` (file values). */
function noteSources(obj: Raw, prefix: string, source: string, sources: Sources): void {
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v) && p !== "ingest") noteSources(v, p, source, sources);
    else sources.set(p, source);
  }
}

function parseText(spec: SettingSpec, text: string): unknown {
  switch (spec.kind) {
    case "string": return text;
    case "list": return text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    case "int": return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
    case "port": return text.trim() === "off" ? null : /^\d+$/.test(text.trim()) ? Number(text.trim()) : text;
  }
}

export interface ParsedArgs {
  help: boolean;
  configFile: string | undefined;
  /** Flag values by setting path. */
  values: Map<string, string>;
}

/** Parses `--flag value` and `--flag=value`; unknown flags are an error. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { help: false, configFile: undefined, values: new Map() };
  const issues: ConfigIssue[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") { out.help = true; continue; }
    if (!arg.startsWith("--")) {
      issues.push({ path: arg, source: "command line", message: "unexpected argument; flags look like --name value (see --help)" });
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value = eq >= 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (eq < 0) i++;
    const spec = settingSpecs.find((s) => s.flag === name);
    if (name !== "config" && !spec) {
      issues.push({ path: `--${name}`, source: "command line", message: `unknown flag; known flags: --config, ${settingSpecs.map((s) => "--" + s.flag).join(", ")}` });
      continue;
    }
    if (value === undefined || (eq < 0 && value.startsWith("--"))) {
      issues.push({ path: `--${name}`, source: "command line", message: "needs a value, e.g. --" + name + " <value>" });
      if (eq < 0 && value !== undefined) i--;
      continue;
    }
    if (name === "config") out.configFile = value;
    else out.values.set(spec!.path, value);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

export interface LoadConfigInput {
  argv?: readonly string[];
  env?: Record<string, string | undefined>;
  /** Used for the default node id. */
  hostname?: string;
  pid?: number;
}

/** Merges file < env < flags over the defaults and validates. Throws ConfigError. */
export function loadConfig(input: LoadConfigInput): CloudConfig {
  const env = input.env ?? {};
  const args = parseArgs(input.argv ?? []);
  const raw: Raw = {};
  const sources: Sources = new Map();
  const configFile = args.configFile ?? env.XSFLEET_CONFIG;
  if (configFile) {
    const src = `file ${configFile}`;
    let text: string;
    try {
      text = readFileSync(configFile, "utf8");
    } catch (e) {
      throw new ConfigError([{ path: "config", source: args.configFile ? "flag --config" : "env XSFLEET_CONFIG", message: `cannot read the config file: ${(e as Error).message}` }]);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError([{ path: "config", source: src, message: `not valid JSON: ${(e as Error).message}` }]);
    }
    if (!isPlainObject(parsed)) throw new ConfigError([{ path: "config", source: src, message: "must be a JSON object" }]);
    Object.assign(raw, parsed);
    noteSources(parsed, "", src, sources);
  }
  for (const spec of settingSpecs) {
    const text = env[spec.env];
    if (text === undefined || text === "") continue;
    setPath(raw, spec.path, parseText(spec, text));
    sources.set(spec.path, `env ${spec.env}`);
  }
  for (const [path, text] of args.values) {
    const spec = settingSpecs.find((s) => s.path === path)!;
    setPath(raw, path, parseText(spec, text));
    sources.set(path, `flag --${spec.flag}`);
  }
  return validateConfig(raw, { sources, hostname: input.hostname, pid: input.pid });
}


/** Collects issues while reading typed values out of a raw object. */
class Checker implements SettingsReader {
  readonly issues: ConfigIssue[] = [];
  readonly #sources: Sources;

  constructor(sources: Sources) {
    this.#sources = sources;
  }

  fail(path: string, message: string): void {
    const source = this.#sources.get(path) ?? this.#sources.get(path.split(".")[0]!) ?? "default";
    this.issues.push({ path, source, message });
  }

  str(path: string, v: unknown, fallback: string): string {
    if (v === undefined) return fallback;
    if (typeof v !== "string") { this.fail(path, `must be a string, got ${JSON.stringify(v)}`); return fallback; }
    return v;
  }

  int(path: string, v: unknown, fallback: number, min: number, max: number): number {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v;
  }

  obj(path: string, v: unknown): Raw {
    if (v === undefined) return {};
    if (!isPlainObject(v)) { this.fail(path, "must be an object"); return {}; }
    return v;
  }

  /** A readable file path, or undefined when not set. */
  file(path: string, v: unknown): string | undefined {
    if (v === undefined) return undefined;
    const p = this.str(path, v, "");
    if (p === "") return undefined;
    try { accessSync(p, constants.R_OK); } catch { this.fail(path, `file ${JSON.stringify(p)} does not exist or is not readable`); }
    return p;
  }
}

/** Validates a merged raw object (file shape) into a CloudConfig. Throws ConfigError. */
export function validateConfig(raw: Raw, opts: { sources?: Sources; hostname?: string; pid?: number } = {}): CloudConfig {
  const c = new Checker(opts.sources ?? new Map<string, string>());
  const def = defaultConfig();
  checkUnknownKeys(raw, def, "", (p, m) => c.fail(p, m));

  const defaultNodeId = `xsf-${(opts.hostname ?? "node").replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 40)}-${opts.pid ?? 0}`;
  const nodeId = c.str("nodeId", raw.nodeId, defaultNodeId);
  if (!nodeIdPattern.test(nodeId)) c.fail("nodeId", `must be 1-64 characters from A-Z a-z 0-9 _ -, got ${JSON.stringify(nodeId)}`);
  const roles = checkRoles(c, raw.roles, def.roles);
  const nats = readNatsSettings(c, c.obj("nats", raw.nats), nodeId, def.nats.servers);
  const replicas = c.int("streams.replicas", c.obj("streams", raw.streams).replicas, def.streams.replicas, 1, 5);

  const httpRaw = c.obj("http", raw.http);
  const host = c.str("http.host", httpRaw.host, def.http.host);
  const port = httpRaw.port === null ? null : c.int("http.port", httpRaw.port, def.http.port!, 0, 65535);

  const shutdownTimeoutMs = c.int("shutdownTimeoutMs", raw.shutdownTimeoutMs, def.shutdownTimeoutMs, 100, 600_000);
  const logLevel = c.str("logLevel", raw.logLevel, def.logLevel);
  if (!(Object.values(LogLevel) as string[]).includes(logLevel)) c.fail("logLevel", `must be one of ${Object.values(LogLevel).join(", ")}, got ${JSON.stringify(logLevel)}`);
  const limits = checkLimits(c, c.obj("limits", raw.limits));
  const commands = checkCommandRetry(c, c.obj("commands", raw.commands));

  const ingest = c.obj("ingest", raw.ingest);
  try {
    // The ingest role owns its settings; checking them here means a typo fails at startup, with the rest.
    parseIngestConfig({ replicas, ...ingest });
  } catch (e) {
    c.fail("ingest", (e as Error).message.replace(/^invalid ingest config:\s*/, "").replace(/\n\s*/g, "; "));
  }

  const registry = c.str("registry", raw.registry, def.registry);
  if (!(registryBackends as readonly string[]).includes(registry)) c.fail("registry", `must be one of ${registryBackends.join(", ")}, got ${JSON.stringify(registry)}`);

  const orchestration = readOrchestrationSettings(c, c.obj("orchestration", raw.orchestration));
  const lock = readLockSettings(c, c.obj("lock", raw.lock));
  const cache = readCacheSettings(c, c.obj("cache", raw.cache));
  // The ring is the SWIM view of the orchestration role's membership.
  if (roles.includes(CloudRole.Cache) && !roles.includes(CloudRole.Orchestration)) c.fail("roles", "the cache role needs the orchestration role on the same node (the ring is its SWIM membership view)");
  const trustDir = raw.trustDir === undefined ? undefined : c.str("trustDir", raw.trustDir, "");
  if (roles.includes(CloudRole.Provisioning) && !trustDir) c.fail("trustDir", "the provisioning role needs the trust directory (--trust-dir, XSFLEET_TRUST_DIR): trust.json, operator-signing.nk, fleet-signing.nk, sys-push.creds");
  const provisioning = checkInts(c, "provisioning", c.obj("provisioning", raw.provisioning), defaultProvisioningSettings, provisioningSettingRanges);
  for (const p of provisioningSettingProblems(provisioning)) c.fail(`provisioning.${p.path}`, p.message);

  if (c.issues.length > 0) throw new ConfigError(c.issues);
  return {
    nodeId, roles, nats, streams: { replicas }, http: { host, port }, shutdownTimeoutMs, logLevel: logLevel as LogLevel, limits, commands, ingest,
    registry: registry as RegistryBackend, orchestration, lock, cache, ...(trustDir ? { trustDir } : {}), provisioning,
  };
}

function checkRoles(c: Checker, v: unknown, fallback: CloudRole[]): CloudRole[] {
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.some((r) => typeof r !== "string")) {
    c.fail("roles", `must be a list of role names (${cloudRoles.join(", ")})`);
    return fallback;
  }
  if (v.length === 0) {
    c.fail("roles", `needs at least one role; choose from ${cloudRoles.join(", ")}`);
    return fallback;
  }
  const unknown = (v as string[]).filter((r) => !isCloudRole(r));
  if (unknown.length > 0) c.fail("roles", `unknown role ${unknown.map((r) => JSON.stringify(r)).join(", ")}; choose from ${cloudRoles.join(", ")}`);
  return [...new Set(v as CloudRole[])];
}

/** Reads each field of `raw` within its range; missing fields keep their default. */
function checkInts<T extends object>(c: Checker, prefix: string, raw: Raw, defaults: Readonly<T>, ranges: IntRanges<T>): T {
  const out = { ...defaults } as T;
  for (const key of Object.keys(ranges) as (keyof T & string)[]) {
    const [min, max] = ranges[key];
    (out as Record<string, unknown>)[key] = c.int(`${prefix}.${key}`, raw[key], defaults[key] as number, min, max);
  }
  return out;
}

function checkLimits(c: Checker, l: Raw): CloudLimits {
  return checkInts(c, "limits", l, defaultLimits, limitRanges);
}

function checkCommandRetry(c: Checker, r: Raw): CommandRetrySettings {
  const out = checkInts(c, "commands", r, defaultCommandRetry, commandRetryRanges);
  for (const p of commandRetryProblems(out)) c.fail(`commands.${p.path}`, p.message);
  return out;
}

/** Unknown keys are almost always typos; say which keys exist. */
function checkUnknownKeys(raw: Raw, shape: object, prefix: string, fail: (path: string, message: string) => void): void {
  const known = new Set(Object.keys(shape));
  if (prefix === "nats") for (const k of natsSettingKeys) known.add(k);
  if (prefix === "") known.add("trustDir");
  for (const [k, v] of Object.entries(raw)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (!known.has(k)) {
      fail(p, `unknown setting; known settings here: ${[...known].sort().join(", ")}`);
      continue;
    }
    const sub = (shape as Raw)[k];
    if (p !== "ingest" && p !== "nats.tls" && isPlainObject(v) && isPlainObject(sub)) checkUnknownKeys(v, sub, p, fail);
  }
  if (prefix === "" && isPlainObject(raw.nats) && isPlainObject(raw.nats.tls)) {
    const tlsKnown = ["caFile", "certFile", "keyFile"];
    for (const k of Object.keys(raw.nats.tls)) if (!tlsKnown.includes(k)) fail(`nats.tls.${k}`, `unknown setting; known settings here: ${tlsKnown.join(", ")}`);
  }
}

export function usage(): string {
  const lines = [
    "Usage: xsfleet cloud [--config file.json] [flags]",
    "",
    "Runs one xsfleet cloud node with the chosen roles. Settings come from the",
    "JSON config file, then XSFLEET_* environment variables, then flags (later wins).",
    "",
    "  --config <file>            JSON config file (env XSFLEET_CONFIG)",
  ];
  for (const s of settingSpecs) lines.push(`  --${(s.flag + " <value>").padEnd(24)} ${s.help} (env ${s.env})`);
  lines.push("  --help                     show this help");
  lines.push("", "Config-file-only settings: limits.*, commands.* (retry timing), ingest.*, orchestration.heartbeatIntervalMs,",
    "lock.redis.poolSize/keyPrefix, cache.* (docs/data-plane.md), provisioning.* — see docs/api.md, docs/recovery.md and docs/security.md.");
  lines.push("SIGTERM or SIGINT stops taking work, finishes in-flight work, drains and exits 0.");
  return lines.join("\n");
}
