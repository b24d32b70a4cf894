// Tracing settings of one process, from its flags and environment: where
// spans go (OTLP/HTTP endpoint) and which traces are kept (ratio). Tracing is
// off unless an endpoint is configured; then nothing is created at all (see
// provider.ts, "off costs nothing"). Flags win over the environment.
//
//   --otlp-endpoint <url|off>   OTLP/HTTP collector (base URL or .../v1/traces)
//   --trace-ratio <0..1>        share of new traces kept (parent-based, see provider.ts)
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  full traces URL (OpenTelemetry spec)
//   OTEL_EXPORTER_OTLP_ENDPOINT         base URL; "/v1/traces" is appended
//   OTEL_TRACES_SAMPLER_ARG             ratio, when --trace-ratio is absent
//   OTEL_SDK_DISABLED=true              off whatever else is set
// Bad values are a TracingSettingsError naming the setting, never a crash later.

export interface TracingSettings {
  /** Full OTLP/HTTP traces URL (…/v1/traces); null: tracing off. */
  otlpEndpoint: string | null;
  /** Probability of keeping a trace, 0..1; applied on the trace id, so every process decides alike. */
  ratio: number;
  /** Batch processor: longest a finished span waits before export. */
  exportDelayMs: number;
  /** Batch processor: spans queued at most; beyond it spans are dropped (and counted by the SDK). */
  queueSpansMax: number;
}

export const defaultTracingSettings: Readonly<TracingSettings> = Object.freeze({
  otlpEndpoint: null,
  ratio: 1,
  exportDelayMs: 1_000,
  queueSpansMax: 4_096,
});

/** The path OTLP/HTTP serves traces on (OTLP specification). */
export const otlpTracesPath = "/v1/traces";

export class TracingSettingsError extends Error {
  override readonly name = "TracingSettingsError";
}

/** A base URL gets the traces path; a URL that names a path keeps it. */
export function otlpTracesUrl(endpoint: string, source: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new TracingSettingsError(`${source}: ${JSON.stringify(endpoint)} is not a URL (expected http://host:port)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TracingSettingsError(`${source}: ${endpoint} must be http:// or https://`);
  if (u.pathname === "/" || u.pathname === "") u.pathname = otlpTracesPath;
  return u.toString();
}

function parseRatio(text: string, source: string): number {
  const r = Number(text);
  if (text.trim() === "" || !Number.isFinite(r) || r < 0 || r > 1) throw new TracingSettingsError(`${source}: ${JSON.stringify(text)} is not a ratio from 0 to 1 (e.g. 0.01 for 1 %)`);
  return r;
}

const tracingFlags = ["--otlp-endpoint", "--trace-ratio"] as const;

/**
 * Takes the tracing flags out of `argv` (`--flag value` or `--flag=value`),
 * so the process's own parser never sees them, and reads the settings.
 */
export function takeTracingSettings(argv: readonly string[], env: Record<string, string | undefined>): { settings: TracingSettings; argv: string[] } {
  const rest: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!(tracingFlags as readonly string[]).includes(name)) { rest.push(a); continue; }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new TracingSettingsError(`${name} needs a value`);
    flags.set(name, value);
  }
  const s: TracingSettings = { ...defaultTracingSettings };
  const flagEndpoint = flags.get("--otlp-endpoint");
  if (flagEndpoint !== undefined) {
    s.otlpEndpoint = flagEndpoint === "off" || flagEndpoint === "" ? null : otlpTracesUrl(flagEndpoint, "--otlp-endpoint");
  } else if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    s.otlpEndpoint = otlpTracesUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  } else if (env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    // The spec: the signal path is appended to the base URL, whatever its path.
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "");
    s.otlpEndpoint = otlpTracesUrl(base + otlpTracesPath, "OTEL_EXPORTER_OTLP_ENDPOINT");
  }
  const flagRatio = flags.get("--trace-ratio");
  if (flagRatio !== undefined) s.ratio = parseRatio(flagRatio, "--trace-ratio");
  else if (env.OTEL_TRACES_SAMPLER_ARG) s.ratio = parseRatio(env.OTEL_TRACES_SAMPLER_ARG, "OTEL_TRACES_SAMPLER_ARG");
  if (env.OTEL_SDK_DISABLED === "true") s.otlpEndpoint = null;
  return { settings: s, argv: rest };
}

/** Help text of the tracing flags, for processes that take them. */
export const tracingUsage = [
  "Tracing (OpenTelemetry, docs/observability.md):",
  "  --otlp-endpoint <url|off>  OTLP/HTTP collector for spans (env OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT); off by default",
  "  --trace-ratio <0..1>       share of traces kept, on the trace id (env OTEL_TRACES_SAMPLER_ARG; default 1)",
].join("\n");
