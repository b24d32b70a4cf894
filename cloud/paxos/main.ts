// Process entry of one CASPaxos acceptor:
//
//   tsx cloud/paxos/main.ts --id 1 --data-dir DIR --nats URL [--group registers]
//
// Serves `xsfleet.paxos.<group>.<id>` (binary frames) and
// `xsfleet.v1.paxos.<group>.<id>.status` (JSON). SIGTERM or SIGINT stop it
// gracefully (subscriptions first, the pass in progress finishes, the store
// is synced and closed). Exit codes: 0 stopped, 2 bad configuration, 1 fatal
// (a failed fsync or a corrupt store: an acceptor that may have forgotten a
// promise must not vote).

import { parseArgs } from "node:util";
import { connectNats, natsAuthFromFlags, type NatsSettings } from "../nats";
import { ACCEPTOR_DEFAULTS } from "./acceptor";
import { AcceptorNode } from "./acceptor-node";
import { FILE_STORE_DEFAULTS } from "./storage";
import { createProcessMetrics, metricsFlags, startMetricsEndpoint, type MetricsFlags, type ProcessMetrics } from "../metrics";

export const USAGE = `usage: tsx cloud/paxos/main.ts --id N --data-dir DIR --nats URL[,URL...] [options]

  --id N              this acceptor's id (1..65535), fixed for its data dir
  --data-dir DIR      promises and accepted states (log + snapshot); created if missing
  --nats URLS         NATS server URL(s), comma separated
  --group NAME        acceptor group / subject token (default: registers)
  --keys-max N        registers this acceptor holds (default ${ACCEPTOR_DEFAULTS.keysMax})
  --log-bytes-max N   compact the log into a snapshot past this size (default ${FILE_STORE_DEFAULTS.logBytesMax})
  --metrics-port PORT serve Prometheus metrics on http://<metrics-host>:PORT/metrics (0 = any free port; default off)
  --metrics-host ADDR address of the metrics endpoint (default 127.0.0.1)
  --creds FILE        NATS credentials (.creds) of the consensus user (env XSFLEET_NATS_CREDS)
  --tls-ca FILE       CA certificate to verify a TLS NATS server (env XSFLEET_NATS_TLS_CA)
  --help              this text

Proposers (cloud/paxos PaxosClient) send to xsfleet.paxos.<group>.<id>; a
majority of the group's acceptors must run. See docs/consensus.md.`;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export interface AcceptorMainConfig {
  id: number;
  dataDir: string;
  nats: string[];
  group: string;
  keysMax: number;
  logBytesMax: number;
  /** NATS credentials and TLS CA (--creds, --tls-ca). */
  auth: Pick<NatsSettings, "credsFile" | "tls">;
  /** --metrics-host/--metrics-port; null = no endpoint. */
  metrics: MetricsFlags | null;
}

function positive(flag: string, text: string | undefined, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new ConfigError(`${flag} must be an integer in 1..${max}, got "${text}"`);
  return n;
}

/** Parses argv; throws ConfigError with a message meant for the operator. */
export function parseAcceptorConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AcceptorMainConfig | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        id: { type: "string" }, "data-dir": { type: "string" }, nats: { type: "string" }, group: { type: "string" },
        "keys-max": { type: "string" }, "log-bytes-max": { type: "string" }, creds: { type: "string" }, "tls-ca": { type: "string" },
        "metrics-port": { type: "string" }, "metrics-host": { type: "string" }, help: { type: "boolean" },
      },
      strict: true,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (v.id === undefined) throw new ConfigError("--id is required (e.g. --id 1)");
  const id = positive("--id", v.id, 0, 0xffff);
  if (!v["data-dir"]) throw new ConfigError("--data-dir is required");
  if (!v.nats) throw new ConfigError("--nats is required (e.g. --nats nats://127.0.0.1:4222)");
  const nats = v.nats.split(",").map((s) => s.trim()).filter(Boolean);
  for (const u of nats) if (!/^(nats|tls):\/\/[^\s]+$/.test(u) && !/^[\w.-]+:\d+$/.test(u)) throw new ConfigError(`--nats: "${u}" is not a NATS URL`);
  const group = v.group ?? "registers";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) throw new ConfigError(`--group "${group}" must match [A-Za-z0-9_-]{1,64}`);
  return {
    id, dataDir: v["data-dir"], nats, group,
    keysMax: positive("--keys-max", v["keys-max"], ACCEPTOR_DEFAULTS.keysMax, 10_000_000),
    logBytesMax: positive("--log-bytes-max", v["log-bytes-max"], FILE_STORE_DEFAULTS.logBytesMax),
    auth: natsAuth(v.creds, v["tls-ca"], env),
    metrics: metricsFlags(v["metrics-port"], v["metrics-host"], (m) => new ConfigError(m)),
  };
}

function natsAuth(creds: string | undefined, tlsCa: string | undefined, env: NodeJS.ProcessEnv): AcceptorMainConfig["auth"] {
  try {
    return natsAuthFromFlags(creds, tlsCa, env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

const stopTimeoutMs = 5_000;

/** An acceptor's metrics (docs/observability.md), read from its status at scrape time. */
function acceptorMetrics(node: AcceptorNode): ProcessMetrics {
  const m = createProcessMetrics({ process: `paxos-${node.id}` });
  m.gaugeFrom("xsfleet_paxos_registers", "Registers this acceptor holds", () => node.status().keys);
  m.counterFrom("xsfleet_paxos_fsyncs_total", "Acceptor store fsyncs (one per group commit)", () => node.status().fsyncs);
  m.labelledCounterFrom("xsfleet_paxos_node_events_total", "Acceptor process counters (framesReceived, requests, decodeErrors, inboxDropped, passes, replyFrames)", "event", () => ({ ...node.stats }));
  m.labelledCounterFrom("xsfleet_paxos_acceptor_events_total", "Acceptor core counters (prepares, accepts, rejections, ...)", "event", () => ({ ...node.status().core }));
  return m;
}

async function main(): Promise<void> {
  let cfg: AcceptorMainConfig | "help";
  try {
    cfg = parseAcceptorConfig(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`paxos acceptor: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (cfg === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = (m: string): void => { process.stderr.write(`[paxos ${cfg.id}] ${m}\n`); };
  const nc = await connectNats({ servers: cfg.nats, name: `xsfleet-paxos-${cfg.group}-${cfg.id}`, ...cfg.auth });
  const node = await AcceptorNode.open({ id: cfg.id, group: cfg.group, dataDir: cfg.dataDir, nc, keysMax: cfg.keysMax, logBytesMax: cfg.logBytesMax, log });
  node.onFatal = (err) => {
    log(`fatal: ${err.message}`);
    process.exit(1);
  };
  let metricsPort: number | null = null;
  // Metrics are not worth an acceptor: a taken port is logged, the acceptor serves on.
  if (cfg.metrics) metricsPort = await startMetricsEndpoint({ ...cfg.metrics, metrics: acceptorMetrics(node).registry }).then((e) => e.port, (e: Error) => { log(`no metrics: ${e.message}`); return null; });
  process.stdout.write(`${JSON.stringify({ event: "started", id: cfg.id, group: cfg.group, pid: process.pid, metricsPort })}\n`);
  let stopping = 0;
  const stop = async (signal: string): Promise<void> => {
    if (stopping > 0) {
      // A parent-death SIGTERM comes once per thread of the dying parent: repeats within a second are the same request.
      if (Date.now() - stopping < 1_000) return;
      log(`${signal} during shutdown: exiting without finishing`);
      process.exit(1);
    }
    stopping = Date.now();
    log(`${signal}: stopping`);
    setTimeout(() => {
      log(`not stopped within ${stopTimeoutMs} ms: exiting`);
      process.exit(1);
    }, stopTimeoutMs).unref();
    await node.stop();
    await nc.drain().catch(() => undefined);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

if (process.argv[1] && /paxos[\\/]main\.[tj]s$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(`paxos acceptor: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
