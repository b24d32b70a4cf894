// The node's tiny HTTP endpoint: /healthz for orchestrators (200 while
// serving, 503 while starting, disconnected or draining) and /metrics for
// Prometheus. Nothing else is served.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthReport {
  status: "ok" | "starting" | "draining" | "disconnected";
  nodeId: string;
  roles: string[];
  nats: { connected: boolean; server: string };
  [k: string]: unknown;
}

export interface HttpEndpoint {
  port: number;
  close(): Promise<void>;
}

export async function startHttpEndpoint(opts: { host: string; port: number; health: () => HealthReport; metrics: Registry }): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") { res.writeHead(405, { allow: "GET" }).end(); return; }
    if (url === "/healthz") {
      const h = opts.health();
      res.writeHead(h.status === "ok" ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(h));
      return;
    }
    if (url === "/metrics") {
      opts.metrics.metrics().then(
        (text) => res.writeHead(200, { "content-type": opts.metrics.contentType }).end(text),
        (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${e.message}`),
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /healthz or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${opts.host}:${opts.port} for /healthz and /metrics: ${e.message} (set http.port, --http-port, or --http-port off)`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
