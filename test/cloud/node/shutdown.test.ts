// A real cloud node process (tsx child): health and metrics over HTTP, and
// SIGTERM while a command is in flight — the node stops taking work,
// finishes the command (reply to the caller included) and exits 0.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../../harness/wait";
import { ApiClient } from "../../../cloud/api/client";
import type { CommandRecord } from "../../../cloud/commands/types";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { ensureTestUplinks, startTestNode, testPartitions } from "../api/fixture";
import { startTestDevice } from "../api/mqtt-device";

const root = path.resolve(import.meta.dirname, "../../..");
let nats: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats({ size: 1, partitions: testPartitions });
  await ensureTestUplinks(nats.servers); // command acks arrive through XSF_UP
  nc = await connect({ servers: nats.servers });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

interface NodeProcess { child: ChildProcess; lines: Record<string, unknown>[]; exited: Promise<number | null> }

function spawnNode(args: string[]): NodeProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "cloud/node/main.ts", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, XSFLEET_CONFIG: "" } });
  const lines: Record<string, unknown>[] = [];
  let buf = "";
  child.stderr!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { lines.push(JSON.parse(line) as Record<string, unknown>); } catch { lines.push({ msg: line }); }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, lines, exited };
}

describe("cloud node process", () => {
  it("serves /healthz and /metrics, and on SIGTERM finishes an in-flight command and exits 0", async () => {
    const p = spawnNode(["--node-id", "proc-1", "--roles", "api,commands", "--nats-servers", nats.servers[0]!, "--http-port", "0", "--http-host", "127.0.0.1"]);
    try {
      await until("node start", () => p.lines.some((l) => l.msg === "cloud node started"), 30_000);
      const port = p.lines.find((l) => l.msg === "cloud node started")!.httpPort as number;
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "ok", nodeId: "proc-1", roles: ["api", "commands"], nats: { connected: true } });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/xsfleet_node_info\{roles="api,commands",node="proc-1"\} 1/);

      const api = new ApiClient(nc);
      await api.register("slow-dev");
      const dev = await startTestDevice({ deviceId: "slow-dev", mqttUrl: nats.nodes[0]!.mqttUrl, ackDelayMs: 2000 });
      try {
        const reply = api.sendCommand({ deviceId: "slow-dev", name: "slow.op", timeoutMs: 20_000 });
        await until("command reaches the device", () => dev.received.length >= 1);
        expect(dev.acksSent).toHaveLength(0);
        p.child.kill("SIGTERM");
        await until("stop requested", () => p.lines.some((l) => l.msg === "stop requested"));
        const draining = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
        if (draining) expect(draining.status).toBe(503);
        const { command } = await reply;
        expect(command).toMatchObject({ state: "acked", ack: { status: "ok", duplicate: false } });
        expect(await p.exited).toBe(0);
        expect(p.lines.some((l) => l.msg === "stopped")).toBe(true);
        // Nothing serves the API any more.
        await expect(api.get("slow-dev")).rejects.toMatchObject({ code: "not_available" });
      } finally {
        await dev.close();
      }
    } finally {
      if (p.child.exitCode === null) p.child.kill("SIGKILL");
    }
  });

  it("a killed node's commands are taken over by another node once its lease lapses", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-node-"));
    const file = path.join(dir, "node.json");
    const commands = { retryInitialMs: 200, retryMaxMs: 500, leaseMs: 1500, tickMs: 50 };
    writeFileSync(file, JSON.stringify({ nodeId: "doomed", roles: ["api", "commands"], nats: { servers: nats.servers }, http: { port: null }, commands }));
    const p = spawnNode(["--config", file]);
    let survivor: CloudNode | null = null;
    try {
      await until("node start", () => p.lines.some((l) => l.msg === "cloud node started"), 30_000);
      const api = new ApiClient(nc);
      await api.register("orphan-dev");
      // The device drops every copy: only retries keep the command alive.
      const dev = await startTestDevice({ deviceId: "orphan-dev", mqttUrl: nats.nodes[0]!.mqttUrl, dropFirstCommands: 1_000_000 });
      try {
        const sent = await api.sendCommand({ deviceId: "orphan-dev", name: "op", wait: false, timeoutMs: 60_000 });
        const kv = await new Kvm(nc).open("xsfleet_commands");
        const owner = async (): Promise<string> => (await kv.get(`orphan-dev.${sent.command.commandId}`))!.json<CommandRecord>().leaseOwner;
        await until("the doomed node to take the lease", async () => (await owner()) === "doomed");
        // The survivor joins while the doomed node holds a live lease: it must leave the command alone.
        survivor = await startTestNode(nats.servers, { nodeId: "survivor", roles: ["commands"], commands });
        await new Promise((r) => setTimeout(r, 500));
        expect(survivor.commandWorker!.stats.sent).toBe(0);
        p.child.kill("SIGKILL");
        await p.exited;
        const copies = dev.received.length;
        await until("retries resume from the surviving node", () => dev.received.length >= copies + 2, 15_000);
        expect(await owner()).toBe("survivor");
        expect(survivor.commandWorker!.stats.sent).toBeGreaterThanOrEqual(2);
      } finally {
        await dev.close();
      }
    } finally {
      if (p.child.exitCode === null) p.child.kill("SIGKILL");
      await survivor?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops and exits on SIGTERM when its NATS server is already gone, by itself, within shutdownTimeoutMs", async () => {
    // What Ctrl-C in a terminal used to do to `npm start`: the broker died first and nodes hung after "stopped".
    const own = await startNats({ size: 1 });
    const child = spawn(process.execPath, [path.join(root, "bin", "xsfleet.mjs"), "cloud", "--node-id", "orphaned", "--roles", "ingest,api,commands",
      "--nats-servers", own.servers[0]!, "--http-port", "0", "--shutdown-timeout-ms", "3000"], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, XSFLEET_CONFIG: "" } });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await until("node start", () => out.includes('"cloud node started"'), 30_000);
      await own.stopNode(0, "SIGKILL");
      await until("node sees the server gone", () => out.includes("NATS disconnected"));
      child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 15_000))]);
      expect(code, out).not.toBe("hung");
      expect(out).toContain('"stop requested"');
      // It ended on its own, not through the CLI's leak guard.
      expect(out).not.toContain("still running");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await own.stop();
    }
  });

  it("exits 2 with a clear message on bad configuration", async () => {
    const p = spawnNode(["--roles", "api,billing"]);
    expect(await p.exited).toBe(2);
    expect(p.lines.map((l) => l.msg).join("\n")).toMatch(/roles \(flag --roles\): unknown role "billing"/);
  });
});
