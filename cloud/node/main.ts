// Process entry of a cloud node: `xsfleet cloud …` calls runCloudNode, and
// `tsx cloud/node/main.ts …` runs it directly. Exit codes: 0 after a
// graceful stop (SIGTERM/SIGINT) or --help, 2 for configuration errors, 1
// when the node fails to start or to stop (the stop is bounded by
// shutdownTimeoutMs). A second signal during shutdown (more than a second
// after the first) exits at once with 1.
import { hostname } from "node:os";
import { pathToFileURL } from "node:url";
import { ConfigError, loadConfig, usage } from "./config";
import { createLogger } from "../base";
import { startCloudNode, type CloudNodeDeps } from "./node";
import { ProcessKind, startTracing, takeTracingSettings, tracingUsage, TracingSettingsError, type TracingSettings } from "../tracing";

export interface RunIo {
  env?: Record<string, string | undefined>;
  out?: (text: string) => void;
  err?: (text: string) => void;
  /** Resolves when the node should stop; default: the first SIGTERM or SIGINT. */
  stopSignal?: Promise<string>;
  deps?: CloudNodeDeps;
}

/** Repeats of the first signal within this window are the same request: a
 *  parent-death SIGTERM arrives once per thread of the dying parent, and a
 *  terminal plus a wrapper (npm) can deliver one Ctrl-C twice. */
const signalRepeatIgnoreMs = 1_000;

function firstSignal(onSecond: () => void): Promise<string> {
  return new Promise((resolve) => {
    let firstAtMs = 0;
    const handler = (sig: NodeJS.Signals): void => {
      if (firstAtMs > 0) {
        if (Date.now() - firstAtMs >= signalRepeatIgnoreMs) onSecond();
        return;
      }
      firstAtMs = Date.now();
      resolve(sig);
    };
    process.on("SIGTERM", handler);
    process.on("SIGINT", handler);
  });
}

export async function runCloudNode(argv: readonly string[], io: RunIo = {}): Promise<number> {
  const out = io.out ?? ((t: string) => process.stdout.write(t + "\n"));
  const err = io.err ?? ((t: string) => process.stderr.write(t + "\n"));
  if (argv.includes("--help") || argv.includes("-h")) {
    out(usage());
    out(tracingUsage);
    return 0;
  }
  let config;
  let traceSettings: TracingSettings;
  try {
    // Tracing flags (--otlp-endpoint, --trace-ratio) and OTEL_* env are cloud/tracing's; the rest is the node's.
    const t = takeTracingSettings(argv, io.env ?? process.env);
    traceSettings = t.settings;
    config = loadConfig({ argv: t.argv, env: io.env ?? process.env, hostname: hostname(), pid: process.pid });
  } catch (e) {
    if (e instanceof ConfigError || e instanceof TracingSettingsError) {
      err(e.message);
      err("Run with --help for the list of settings.");
      return 2;
    }
    throw e;
  }
  const log = io.deps?.log ?? createLogger({ level: config.logLevel, base: { node: config.nodeId } });
  const stopSignal = io.stopSignal ?? firstSignal(() => {
    log.error("second signal during shutdown: exiting without finishing in-flight work");
    process.exit(1);
  });
  // Only the API and command roles need the implicit context (see cloud/tracing/provider.ts).
  const implicitContext = config.roles.some((r) => r === "api" || r === "commands" || r === "provisioning" || r === "orchestration");
  const tracing = startTracing({ serviceName: ProcessKind.CloudNode, instanceId: config.nodeId, settings: traceSettings, implicitContext });
  if (tracing.tracer) log.info("tracing", { otlpEndpoint: traceSettings.otlpEndpoint, ratio: traceSettings.ratio });
  let node;
  try {
    node = await startCloudNode(config, { tracer: tracing.tracer, ...io.deps, log });
  } catch (e) {
    log.error("cloud node failed to start", { err: e });
    await tracing.shutdown();
    return 1;
  }
  const sig = await stopSignal;
  log.info("stop requested", { signal: sig });
  try {
    await node.stop();
    return 0;
  } catch (e) {
    log.error("graceful stop failed", { err: e });
    return 1;
  } finally {
    await tracing.shutdown();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runCloudNode(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`xsfleet cloud: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
