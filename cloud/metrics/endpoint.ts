// A process's tiny HTTP endpoint: /metrics for Prometheus and, when the
// process has one, /healthz for orchestrators (200 while serving, 503
// otherwise). Nothing else is served. Cloud nodes, control-plane replicas,
// CASPaxos acceptors and `xsfleet up` (its simulated fleet) use it; the
// dashboard serves /metrics on its own server through `metricsHandler`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthReport {
  status: "ok" | "starting" | "draining" | "disconnected";
  [k: string]: unknown;
}

export interface MetricsEndpoint {
  port: number;
  close(): Promise<void>;
}

/** Answers GET /metrics from `registry`; false when the request is not for /metrics. */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if ((req.url ?? "/").split("?")[0] !== "/metrics") return false;
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${e.message}`),
    );
    return true;
  };
}

export async function startMetricsEndpoint(opts: { host: string; port: number; metrics: Registry; health?: () => HealthReport; what?: string }): Promise<MetricsEndpoint> {
  const serveMetrics = metricsHandler(opts.metrics);
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET") { res.writeHead(405, { allow: "GET" }).end(); return; }
    if (serveMetrics(req, res)) return;
    if (opts.health && (req.url ?? "/").split("?")[0] === "/healthz") {
      const h = opts.health();
      res.writeHead(h.status === "ok" ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(h));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end(`not found: try ${opts.health ? "/healthz or " : ""}/metrics\n`);
  });
  const what = opts.what ?? "/metrics";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${opts.host}:${opts.port} for ${what}: ${e.message} (choose another port, or 0 for any free one)`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Where a process serves /metrics (its --metrics-host/--metrics-port flags). */
export interface MetricsFlags {
  host: string;
  port: number;
}

/** Parses --metrics-port/--metrics-host; null when no port is given (no endpoint). */
export function metricsFlags(port: string | undefined, host: string | undefined, error: (msg: string) => Error): MetricsFlags | null {
  if (port === undefined) {
    if (host !== undefined) throw error("--metrics-host needs --metrics-port");
    return null;
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw error(`--metrics-port must be a port number 0..65535 (0 = any free port), got "${port}"`);
  const h = host ?? "127.0.0.1";
  if (!/^[0-9A-Za-z.:-]{1,255}$/.test(h)) throw error(`--metrics-host must be an address, got "${host}"`);
  return { host: h, port: n };
}
