import { tracingUsage } from "../../../cloud/tracing";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, usage, validateConfig } from "../../../cloud/node/config";
import { runCloudNode } from "../../../cloud/node/main";

function configFile(content: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-cfg-"));
  const p = path.join(dir, "node.json");
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

function issuesOf(fn: () => unknown): ConfigError["issues"] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

describe("cloud node configuration", () => {
  it("has working defaults", () => {
    const c = loadConfig({ hostname: "box.example", pid: 42 });
    expect(c.nodeId).toBe("xsf-box-example-42");
    expect(c.roles).toEqual(["ingest", "api", "commands"]);
    expect(c.nats.servers).toEqual(["nats://127.0.0.1:4222"]);
    expect(c.streams.replicas).toBe(1);
    expect(c.http.port).toBe(9464);
  });

  it("merges file < env < flags", () => {
    const file = configFile({ nodeId: "from-file", roles: ["api"], streams: { replicas: 3 }, http: { port: 1000 }, limits: { apiInflightMax: 7 } });
    const c = loadConfig({
      argv: ["--config", file, "--http-port", "3000"],
      env: { XSFLEET_NODE_ID: "from-env", XSFLEET_HTTP_PORT: "2000", XSFLEET_NATS_SERVERS: "nats://a:4222, nats://b:4222" },
    });
    expect(c.nodeId).toBe("from-env");
    expect(c.roles).toEqual(["api"]);
    expect(c.streams.replicas).toBe(3);
    expect(c.http.port).toBe(3000);
    expect(c.nats.servers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(c.limits.apiInflightMax).toBe(7);
    expect(c.limits.listLimitMax).toBe(1000);
  });

  it("accepts --flag=value and turns the http endpoint off", () => {
    const c = loadConfig({ argv: ["--roles=commands,api,commands", "--http-port=off", "--replicas=5"] });
    expect(c.roles).toEqual(["commands", "api"]);
    expect(c.http.port).toBeNull();
    expect(c.streams.replicas).toBe(5);
  });

  it("reports every bad value with its source and what to do", () => {
    const file = configFile({ roles: ["ingest", "billing"], streams: { replicas: 0 } });
    const issues = issuesOf(() => loadConfig({
      argv: ["--config", file, "--node-id", "has space"],
      env: { XSFLEET_NATS_SERVERS: "http://x:80", XSFLEET_HTTP_PORT: "99999" },
    }));
    const by = (p: string) => issues.find((i) => i.path === p);
    expect(by("roles")?.message).toMatch(/unknown role "billing"; choose from ingest, api, commands, analytics, orchestration/);
    expect(by("roles")?.source).toBe(`file ${file}`);
    expect(by("streams.replicas")?.message).toMatch(/integer from 1 to 5, got 0/);
    expect(by("nodeId")?.source).toBe("flag --node-id");
    expect(by("nats.servers")?.source).toBe("env XSFLEET_NATS_SERVERS");
    expect(by("nats.servers")?.message).toMatch(/use nats:\/\/host:port/);
    expect(by("http.port")?.source).toBe("env XSFLEET_HTTP_PORT");
    expect(issues).toHaveLength(5);
  });

  it("rejects unknown settings, empty roles, missing files and inconsistent pairs", () => {
    const issues = issuesOf(() => validateConfig({
      nodeid: "typo",
      roles: [],
      nats: { servers: [], credsFile: "/nonexistent/x.creds", pass: "secret", tls: { certFile: "/nonexistent/cert.pem", bogus: 1 } },
      limits: { apiInflightMax: 1.5 },
      commands: { retryInitialMs: 1000, retryMaxMs: 500 },
    }));
    const messages = issues.map((i) => `${i.path}: ${i.message}`).join("\n");
    expect(messages).toMatch(/nodeid: unknown setting; known settings here: .*nodeId/);
    expect(messages).toMatch(/roles: needs at least one role/);
    expect(messages).toMatch(/nats.servers: needs at least one URL/);
    expect(messages).toMatch(/nats.credsFile: file "\/nonexistent\/x.creds" does not exist/);
    expect(messages).toMatch(/nats.pass: is set but nats.user is not/);
    expect(messages).toMatch(/nats.tls.bogus: unknown setting/);
    expect(messages).toMatch(/nats.tls: certFile and keyFile go together/);
    expect(messages).toMatch(/limits.apiInflightMax: must be an integer/);
    expect(messages).toMatch(/commands.retryMaxMs: must be >= commands.retryInitialMs/);
  });

  it("selects the registry backend and rejects unknown ones", () => {
    expect(loadConfig({ argv: [] }).registry).toBe("kv");
    expect(loadConfig({ argv: ["--registry", "control"] }).registry).toBe("control");
    expect(loadConfig({ argv: [], env: { XSFLEET_REGISTRY: "control" } }).registry).toBe("control");
    expect(() => loadConfig({ argv: ["--registry", "etcd"] })).toThrow(/registry.*must be one of kv, control/);
  });

  it("reads the edge jobs the orchestrator places (flag as JSON, checked with the device's own parser)", () => {
    const jobs = JSON.stringify([{ id: "agg-1", spec: "aggregate;w=10000;ch=temperature", sources: ["s1"] }, { id: "rules-1", spec: "rules;ch=temperature;gt=30" }]);
    const c = loadConfig({ argv: ["--edge-jobs", jobs] });
    expect(c.orchestration.edge.jobs.map((j) => [j.job.id, j.job.kind, j.sources])).toEqual([["agg-1", "aggregate", ["s1"]], ["rules-1", "rules", []]]);
    expect(loadConfig({ argv: [] }).orchestration.edge.jobs).toEqual([]);
    expect(issuesOf(() => loadConfig({ argv: ["--edge-jobs", "not json"] }))[0]!.message).toMatch(/not JSON/);
    expect(issuesOf(() => loadConfig({ argv: ["--edge-jobs", JSON.stringify([{ id: "x", spec: "aggregate;w=5" }])] }))[0]!.message).toMatch(/window/);
  });

  it("checks the ingest section at startup, with the ingest role's own rules", () => {
    const issues = issuesOf(() => validateConfig({ ingest: { batchMax: 0, bogus: true } }));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe("ingest");
    expect(issues[0]!.message).toMatch(/ingest.batchMax: expected an integer in 1..10000, got 0/);
    expect(issues[0]!.message).toMatch(/ingest.bogus: unknown setting/);
    expect(validateConfig({ ingest: { batchMax: 64 } }).ingest).toEqual({ batchMax: 64 });
  });

  it("explains unreadable or malformed config files", () => {
    expect(issuesOf(() => loadConfig({ argv: ["--config", "/nonexistent/node.json"] }))[0]!.message).toMatch(/cannot read the config file/);
    expect(issuesOf(() => loadConfig({ argv: ["--config", configFile("{ nope")] }))[0]!.message).toMatch(/not valid JSON/);
    expect(issuesOf(() => loadConfig({ argv: ["--config", configFile("[1]")] }))[0]!.message).toMatch(/must be a JSON object/);
  });

  it("rejects unknown flags and flags without values", () => {
    const issues = issuesOf(() => loadConfig({ argv: ["--nats", "x", "--node-id"] }));
    expect(issues[0]!.message).toMatch(/unknown flag; known flags: --config, --node-id/);
    expect(issues[1]!.message).toMatch(/needs a value/);
  });

  it("runCloudNode prints help (exit 0) and config errors (exit 2) without connecting", async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await runCloudNode(["--help"], { out: (t) => out.push(t), err: (t) => err.push(t) })).toBe(0);
    expect(out.join("\n")).toBe(`${usage()}\n${tracingUsage}`);
    expect(usage()).toMatch(/--nats-servers <value>\s+comma-separated NATS URLs .*\(env XSFLEET_NATS_SERVERS\)/);
    expect(await runCloudNode(["--replicas", "9"], { env: {}, out: (t) => out.push(t), err: (t) => err.push(t) })).toBe(2);
    expect(err.join("\n")).toMatch(/streams.replicas \(flag --replicas\): must be an integer from 1 to 5, got 9/);
  });

  it("checks the cache settings: the role needs orchestration, the backend must be known, redis needs a host", () => {
    const issues = issuesOf(() => loadConfig({
      argv: ["--roles", "api,cache", "--cache", "memcached"],
      env: {},
    }));
    const by = (p: string) => issues.find((i) => i.path === p);
    expect(by("roles")?.message).toMatch(/the cache role needs the orchestration role/);
    expect(by("cache.backend")?.message).toMatch(/must be one of ring, redis, off, got "memcached"/);
    expect(by("cache.backend")?.source).toBe("flag --cache");
    expect(issuesOf(() => validateConfig({ cache: { backend: "redis", vnodes: 0 } })).map((i) => i.path).sort()).toEqual(["cache.redis.host", "cache.vnodes"]);
    const ok = validateConfig({ roles: ["api", "orchestration", "cache"], cache: { replicationFactor: 3 } });
    expect(ok.cache).toMatchObject({ backend: "ring", replicationFactor: 3, vnodes: 128 });
  });
});
