// What the container check needs to know of deploy/docker-compose.yml, read
// from the file itself (so the check follows the file): the start stages
// implied by depends_on, and the host ports each service listens on.
//
// The YAML is parsed by the Python and PyYAML that podman-compose runs on
// (anchors and merge keys included), so no YAML parser is added to the
// project for this.
import type { Shell } from "./podman";

export interface RawService {
  depends_on?: string[] | Record<string, unknown>;
  environment?: Record<string, string> | string[];
  command?: string[] | string;
}

export interface ComposeModel {
  /** Services in start order: each stage depends only on earlier ones. */
  stages: string[][];
  /** NATS client URLs, MQTT URLs and monitor URLs of the NATS services. */
  natsUrls: string[];
  mqttUrls: string[];
  monitorUrls: string[];
  /** Every host port some service listens on (to check they are free first). */
  ports: { service: string; port: number; what: string }[];
  dashboardUrl: string | null;
}

function envOf(s: RawService): Record<string, string> {
  const e = s.environment ?? {};
  if (!Array.isArray(e)) return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

function depsOf(s: RawService): string[] {
  const d = s.depends_on ?? [];
  return Array.isArray(d) ? d : Object.keys(d);
}

function port(text: string | undefined, service: string, key: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`deploy/docker-compose.yml: service ${service} has no valid ${key} (got ${JSON.stringify(text)})`);
  return n;
}

export function startStages(services: Record<string, RawService>): string[][] {
  const placed = new Set<string>();
  const stages: string[][] = [];
  const names = Object.keys(services);
  while (placed.size < names.length) {
    const stage = names.filter((n) => !placed.has(n) && depsOf(services[n]!).every((d) => placed.has(d)));
    if (stage.length === 0) throw new Error(`deploy/docker-compose.yml: depends_on has a cycle or an unknown service among ${names.filter((n) => !placed.has(n)).join(", ")}`);
    for (const n of stage) placed.add(n);
    stages.push(stage);
  }
  return stages;
}

export async function readComposeModel(sh: Shell, python: string, file: string): Promise<ComposeModel> {
  const r = await sh.ok(python, ["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file], `reading ${file}`);
  const doc = JSON.parse(r.stdout) as { services?: Record<string, RawService> };
  const services = doc.services ?? {};
  const model: ComposeModel = { stages: startStages(services), natsUrls: [], mqttUrls: [], monitorUrls: [], ports: [], dashboardUrl: null };
  for (const [name, s] of Object.entries(services)) {
    const env = envOf(s);
    if (env.NATS_CLIENT_PORT !== undefined) {
      const p = { client: port(env.NATS_CLIENT_PORT, name, "NATS_CLIENT_PORT"), mqtt: port(env.NATS_MQTT_PORT, name, "NATS_MQTT_PORT"),
        http: port(env.NATS_HTTP_PORT, name, "NATS_HTTP_PORT"), cluster: port(env.NATS_CLUSTER_PORT, name, "NATS_CLUSTER_PORT") };
      model.natsUrls.push(`nats://127.0.0.1:${p.client}`);
      model.mqttUrls.push(`mqtt://127.0.0.1:${p.mqtt}`);
      model.monitorUrls.push(`http://127.0.0.1:${p.http}`);
      model.ports.push({ service: name, port: p.client, what: "NATS" }, { service: name, port: p.mqtt, what: "MQTT" },
        { service: name, port: p.http, what: "monitor" }, { service: name, port: p.cluster, what: "routes" });
    }
    if (env.XSFLEET_HTTP_PORT !== undefined) model.ports.push({ service: name, port: port(env.XSFLEET_HTTP_PORT, name, "XSFLEET_HTTP_PORT"), what: "/healthz" });
    const cmd = Array.isArray(s.command) ? s.command : [];
    const i = cmd.indexOf("--port");
    if (i >= 0 && name === "dashboard") {
      const p = port(cmd[i + 1], name, "--port");
      model.ports.push({ service: name, port: p, what: "dashboard" });
      model.dashboardUrl = `http://127.0.0.1:${p}`;
    }
  }
  if (model.natsUrls.length === 0) throw new Error("deploy/docker-compose.yml: no NATS service (one with NATS_CLIENT_PORT) found");
  return model;
}
