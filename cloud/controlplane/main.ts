// Process entry of one control-plane replica:
//
//   tsx cloud/controlplane/main.ts --id 1 --peers 1,2,3 --data-dir DIR --nats URL
//
// Runs the Raft node (WAL in DIR) and the NATS micro service. SIGTERM or
// SIGINT stop it gracefully (service first, then Raft, then the WAL is
// synced and closed). Exit codes: 0 stopped, 2 bad configuration, 1 fatal.

import { parseArgs } from "node:util";
import { connectNats, natsAuthFromFlags, type NatsSettings } from "../nats";
import { RaftNode, type RaftNodeOptions } from "./raft-node";
import { metricsFlags, startMetricsEndpoint, type MetricsFlags } from "../metrics";
import { createReplicaMetrics } from "./metrics";
import { startControlService } from "./service";
import { ProcessKind, startTracing, takeTracingSettings, tracingUsage, TracingSettingsError, defaultTracingSettings, type TracingSettings } from "../tracing";

export const USAGE = `usage: tsx cloud/controlplane/main.ts --id N --peers 1,2,3 --data-dir DIR --nats URL[,URL...]

  --id N              this replica's Raft node id (positive integer)
  --peers LIST        initial voters, comma separated (used only when DIR is new)
  --learners LIST     initial learners (a node joining a running cluster lists itself
                      here and --peers are the current voters; then call raft.add-node)
  --data-dir DIR      WAL and snapshots; created if missing
  --nats URLS         NATS server URL(s), comma separated
  --group NAME        Raft group / subject token (default: control)
  --tick-ms MS        Raft tick (default 50); election timeout is 10..20 ticks
  --snapshot-entries N  snapshot and compact the log every N applied entries (default 10000)
  --strict-leader-append  every message the leader sends waits for the fsync of its
                      Ready; default: the leader sends MsgApp/heartbeats while its own
                      fsync runs (Raft thesis 10.2.1, as etcd does)
  --metrics-port PORT serve Prometheus metrics on http://<metrics-host>:PORT/metrics (0 = any free port; default off)
  --metrics-host ADDR address of the metrics endpoint (default 127.0.0.1)
  --creds FILE        NATS credentials (.creds) of the control-plane user (env XSFLEET_NATS_CREDS)
  --tls-ca FILE       CA certificate to verify a TLS NATS server (env XSFLEET_NATS_TLS_CA)
  --help              this text

${tracingUsage}
  (spans of the requests that carry a trace context: the server side of a proposal)

Service subjects: xsfleet.v1.control.<endpoint> and xsfleet.v1.control.node.<id>.<endpoint>
(see docs/controlplane.md).`;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export interface MainConfig {
  id: number;
  peers: number[];
  learners: number[];
  dataDir: string;
  nats: string[];
  group: string;
  tickMs: number;
  snapshotEntries: number;
  parallelLeaderAppend: boolean;
  /** NATS credentials and TLS CA (--creds, --tls-ca). */
  auth: Pick<NatsSettings, "credsFile" | "tls">;
  /** --metrics-host/--metrics-port; null = no endpoint. */
  metrics: MetricsFlags | null;
  /** --otlp-endpoint/--trace-ratio (and the OTEL_ environment); off by default. */
  tracing: TracingSettings;
}

function ids(flag: string, text: string | undefined, required: boolean): number[] {
  if (text === undefined || text === "") {
    if (required) throw new ConfigError(`${flag} is required (e.g. ${flag} 1,2,3)`);
    return [];
  }
  const out = text.split(",").map((s) => {
    const n = Number(s.trim());
    if (!Number.isSafeInteger(n) || n < 1 || n > 0xffffffff) throw new ConfigError(`${flag}: "${s}" is not a node id (positive integer)`);
    return n;
  });
  if (new Set(out).size !== out.length) throw new ConfigError(`${flag}: duplicate node ids in ${text}`);
  return out;
}

function positive(flag: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

/** Parses argv; throws ConfigError with a message meant for the operator. */
export function parseConfig(argv: string[], env: Record<string, string | undefined> = {}): MainConfig | "help" {
  let parsed;
  let tracing: TracingSettings = defaultTracingSettings;
  try {
    const t = takeTracingSettings(argv, env);
    tracing = t.settings;
    argv = t.argv;
  } catch (err) {
    if (err instanceof TracingSettingsError) throw new ConfigError(err.message);
    throw err;
  }
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        id: { type: "string" }, peers: { type: "string" }, learners: { type: "string" },
        "data-dir": { type: "string" }, nats: { type: "string" }, group: { type: "string" },
        "tick-ms": { type: "string" }, "snapshot-entries": { type: "string" }, help: { type: "boolean" },
        "strict-leader-append": { type: "boolean" }, creds: { type: "string" }, "tls-ca": { type: "string" },
        "metrics-port": { type: "string" }, "metrics-host": { type: "string" },
      },
      strict: true,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  const [id] = ids("--id", v.id, true);
  const peers = ids("--peers", v.peers, true);
  const learners = ids("--learners", v.learners, false);
  if (!peers.includes(id!) && !learners.includes(id!)) {
    throw new ConfigError(`--id ${id} must be one of --peers (${peers.join(",")}) or --learners`);
  }
  for (const l of learners) if (peers.includes(l)) throw new ConfigError(`node ${l} is in both --peers and --learners`);
  if (!v["data-dir"]) throw new ConfigError("--data-dir is required");
  if (!v.nats) throw new ConfigError("--nats is required (e.g. --nats nats://127.0.0.1:4222)");
  const nats = v.nats.split(",").map((s) => s.trim()).filter(Boolean);
  for (const u of nats) if (!/^(nats|tls):\/\/[^\s]+$/.test(u) && !/^[\w.-]+:\d+$/.test(u)) throw new ConfigError(`--nats: "${u}" is not a NATS URL`);
  const group = v.group ?? "control";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) throw new ConfigError(`--group "${group}" must match [A-Za-z0-9_-]{1,64}`);
  return {
    id: id!, peers, learners, dataDir: v["data-dir"], nats, group,
    tickMs: positive("--tick-ms", v["tick-ms"], 50),
    snapshotEntries: positive("--snapshot-entries", v["snapshot-entries"], 10_000),
    parallelLeaderAppend: !(v["strict-leader-append"] ?? false),
    auth: natsAuth(v.creds, v["tls-ca"], env),
    metrics: metricsFlags(v["metrics-port"], v["metrics-host"], (m) => new ConfigError(m)),
    tracing,
  };
}

function natsAuth(creds: string | undefined, tlsCa: string | undefined, env: NodeJS.ProcessEnv): MainConfig["auth"] {
  try {
    return natsAuthFromFlags(creds, tlsCa, env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Longest graceful stop; the WAL is synced long before this. */
const stopTimeoutMs = 5_000;

async function main(): Promise<void> {
  let cfg: MainConfig | "help";
  try {
    cfg = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`controlplane: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (cfg === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = (m: string): void => { process.stderr.write(`[cp ${cfg.id}] ${m}\n`); };
  const nc = await connectNats({
    servers: cfg.nats, name: `xsfleet-controlplane-${cfg.id}`, ...cfg.auth,
  });
  const rm = cfg.metrics ? createReplicaMetrics(cfg.id) : null;
  const opts: RaftNodeOptions = {
    ...(rm ? { onFsync: rm.observeFsync, onStage: rm.observeStage } : {}),
    id: cfg.id, group: cfg.group, peers: cfg.peers, learners: cfg.learners, dataDir: cfg.dataDir, nc,
    tickMs: cfg.tickMs, snapshotEntries: cfg.snapshotEntries, parallelLeaderAppend: cfg.parallelLeaderAppend, log,
  };
  const node = await RaftNode.open(opts);
  node.onFatal = (err) => {
    log(`fatal: ${err.stack ?? err.message}`);
    process.exit(1);
  };
  // Explicit contexts only (the request's headers): no AsyncLocalStorage hook on the replica's hot path.
  const tracing = startTracing({ serviceName: ProcessKind.ControlReplica, instanceId: `raft-${cfg.id}`, settings: cfg.tracing, implicitContext: false });
  const service = await startControlService({ nc, node, tracer: tracing.tracer });
  let metricsPort: number | null = null;
  if (rm && cfg.metrics) {
    rm.attach(node);
    // Metrics are not worth a replica: a taken port is logged, the replica serves on.
    metricsPort = await startMetricsEndpoint({ ...cfg.metrics, metrics: rm.metrics.registry }).then((e) => e.port, (e: Error) => { log(`no metrics: ${e.message}`); return null; });
  }
  process.stdout.write(`${JSON.stringify({ event: "started", id: cfg.id, pid: process.pid, metricsPort })}\n`);
  let stoppingAtMs = 0;
  const stop = async (signal: string): Promise<void> => {
    if (stoppingAtMs > 0) {
      // A parent-death SIGTERM comes once per thread of the dying parent: repeats within a second are the same request.
      if (Date.now() - stoppingAtMs < 1_000) return;
      log(`${signal} during shutdown: exiting without finishing`);
      process.exit(1);
    }
    stoppingAtMs = Date.now();
    log(`${signal}: stopping`);
    // Bounded: with the NATS server already gone, drain() would wait for a
    // reconnect forever. The WAL is synced by node.stop(), before the drain.
    setTimeout(() => {
      log(`not stopped within ${stopTimeoutMs} ms: exiting`);
      process.exit(1);
    }, stopTimeoutMs).unref();
    await service.stop();
    await node.stop();
    await tracing.shutdown();
    await nc.drain().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

if (process.argv[1] && /controlplane[\\/]main\.[tj]s$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(`controlplane: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
