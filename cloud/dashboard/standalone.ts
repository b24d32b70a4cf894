// The dashboard against a running xsfleet system, in one call (for
// `xsfleet up` and cloud nodes) or as a process:
//   npx tsx cloud/dashboard/standalone.ts --nats nats://127.0.0.1:4222 \
//       --monitor http://127.0.0.1:8222 [--monitor …] [--cloud-health http://node:port/healthz …]
//       [--port 8090] [--host 127.0.0.1] [--creds dashboard.creds] [--tls-ca ca.pem]
// (--creds / XSFLEET_NATS_CREDS: the dashboard's own read-only NATS user, docs/security.md)
import type { ProcessMetrics } from "../metrics";
import { pathToFileURL } from "node:url";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats } from "../nats";
import { createNatsDashboardSource, type NatsDashboardSourceOptions } from "./nats-source";
import { startDashboard } from "./server";
import type { DashboardHandle, DashboardLimits } from "./types";

export interface NatsDashboardOptions extends Omit<NatsDashboardSourceOptions, "nc"> {
  /** An existing connection (not closed by stop()), or servers to connect to. */
  nc?: NatsConnection;
  servers?: string[];
  /** The dashboard user's .creds file and a CA for a TLS NATS server (when it connects itself). */
  credsFile?: string;
  tlsCaFile?: string;
  port: number;
  host?: string;
  limits?: Partial<DashboardLimits>;
  /** The process's metrics, served on /metrics with the dashboard's own. */
  metrics?: ProcessMetrics;
}

/** Starts a NATS-backed dashboard; stop() closes what it opened. */
export async function startNatsDashboard(opts: NatsDashboardOptions): Promise<DashboardHandle> {
  const { nc: given, servers, port, host, limits, credsFile, tlsCaFile, metrics, ...sourceOpts } = opts;
  if (!given && (!servers || servers.length === 0)) throw new Error("startNatsDashboard: pass nc or servers");
  const nc = given ?? (await connectNats({
    servers: servers!, name: "xsfleet-dashboard", ...(credsFile ? { credsFile } : {}), ...(tlsCaFile ? { tls: { caFile: tlsCaFile } } : {}),
  }));
  const source = createNatsDashboardSource({
    ...sourceOpts,
    nc,
    excludeConnectionNames: [...(sourceOpts.excludeConnectionNames ?? []), ...(given ? [] : ["xsfleet-dashboard"])],
  });
  try {
    const handle = await startDashboard({ port, host, source, limits, ...(metrics ? { metrics } : {}) });
    return {
      url: handle.url,
      stop: async () => {
        await handle.stop();
        await source.close();
        if (!given) await nc.drain();
      },
    };
  } catch (e) {
    await source.close();
    if (!given) await nc.close();
    throw e;
  }
}

interface StandaloneArgs { servers: string[]; monitorUrls: string[]; cloudHealthUrls: string[]; port: number; host: string; credsFile?: string; tlsCaFile?: string }

function parseArgs(argv: string[]): StandaloneArgs {
  const out: StandaloneArgs = { servers: [], monitorUrls: [], cloudHealthUrls: [], port: 8090, host: "127.0.0.1" };
  if (process.env.XSFLEET_NATS_CREDS) out.credsFile = process.env.XSFLEET_NATS_CREDS;
  if (process.env.XSFLEET_NATS_TLS_CA) out.tlsCaFile = process.env.XSFLEET_NATS_TLS_CA;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (flag === "--help" || flag === "-h") {
      process.stdout.write("usage: standalone.ts --nats <url> [--nats <url>…] --monitor <http url> [--monitor …] [--cloud-health <node /healthz url> …] [--port 8090] [--host 127.0.0.1] [--creds FILE (env XSFLEET_NATS_CREDS)] [--tls-ca FILE (env XSFLEET_NATS_TLS_CA)]\n");
      process.exit(0);
    }
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    if (flag === "--nats") out.servers.push(value);
    else if (flag === "--monitor") out.monitorUrls.push(value);
    else if (flag === "--cloud-health") out.cloudHealthUrls.push(value);
    else if (flag === "--host") out.host = value;
    else if (flag === "--creds") out.credsFile = value;
    else if (flag === "--tls-ca") out.tlsCaFile = value;
    else if (flag === "--port") {
      const p = Number(value);
      if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Error(`--port must be 0..65535, got ${value}`);
      out.port = p;
    } else throw new Error(`unknown option ${flag}`);
  }
  if (out.servers.length === 0) out.servers.push("nats://127.0.0.1:4222");
  if (out.monitorUrls.length === 0) out.monitorUrls.push("http://127.0.0.1:8222");
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const a = parseArgs(process.argv.slice(2));
  const h = await startNatsDashboard({
    servers: a.servers, monitorUrls: a.monitorUrls, cloudHealthUrls: a.cloudHealthUrls, port: a.port, host: a.host,
    ...(a.credsFile ? { credsFile: a.credsFile } : {}), ...(a.tlsCaFile ? { tlsCaFile: a.tlsCaFile } : {}),
  });
  process.stdout.write(`xsfleet dashboard: ${h.url}\n`);
  const stop = () => { void h.stop().then(() => process.exit(0)); };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
