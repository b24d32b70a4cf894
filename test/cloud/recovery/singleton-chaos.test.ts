// Chaos for the orchestration role, all real processes: a nats-server, three
// Raft control-plane replicas, three cloud nodes (`cloud/node/main.ts`, roles
// api, commands, orchestration, scheduled backups every 2 s). The node that
// holds the backup singleton is killed with kill -9; another node takes the
// lease (seen in the cluster API, as `xsfleet up` shows it) and takes the
// next backup; every singleton the dead node held moves; a command sent
// after the kill is retried (its first copy is lost) and acknowledged.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../../cloud/api";
import { singletonHolders } from "../../../cloud/cli/fleet-probe";
import type { MemberView } from "../../../cloud/membership";
import { BACKUP_LEASE, BackupCatalog } from "../../../cloud/recovery";
import { ClusterApiSubject } from "../../../cloud/subjects";
import { ProcessCluster } from "../../harness/control-plane";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { startTestDevice, type TestDevice } from "../api/mqtt-device";
import { ensureTestUplinks } from "../api/fixture";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const LEASE_TTL_MS = 2_000;

let nats: NatsCluster;
let nc: NatsConnection;
let cp: ProcessCluster;
let root: string;
const nodes = new Map<string, { child: ChildProcess; log: string[] }>();
let device: TestDevice | undefined;

function startNode(nodeId: string): void {
  const file = path.join(root, `${nodeId}.json`);
  writeFileSync(file, JSON.stringify({
    nodeId, roles: ["api", "commands", "orchestration"], nats: { servers: nats.servers }, http: { port: null }, registry: "control",
    commands: { retryInitialMs: 300, retryMaxMs: 1000, leaseMs: 3000, tickMs: 50 },
    orchestration: { leaseTtlMs: LEASE_TTL_MS, heartbeatIntervalMs: 250, backup: { dir: path.join(root, "backups"), intervalMs: 2_000, retain: 50 } },
  }));
  const child = spawn(process.execPath, ["--import", "tsx", "cloud/node/main.ts", "--config", file], { cwd: repo, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, XSFLEET_CONFIG: "" } });
  const log: string[] = [];
  child.stderr!.on("data", (d: Buffer) => { log.push(...d.toString().split("\n").filter(Boolean)); if (log.length > 400) log.splice(0, log.length - 400); });
  nodes.set(nodeId, { child, log });
}

async function members(): Promise<Pick<MemberView, "nodeId" | "status" | "leases">[]> {
  const r = await nc.request(ClusterApiSubject.Members, "{}", { timeout: 2_000 });
  return r.json<{ members: MemberView[] }>().members;
}

const logs = (): string => [...nodes].map(([id, n]) => `--- ${id}\n${n.log.slice(-12).join("\n")}`).join("\n");

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "xsfleet-chaos-"));
  nats = await startNats();
  // Device acks reach cloud/commands through XSF_UP, which ingest makes (no ingest role here).
  await ensureTestUplinks(nats.servers);
  nc = await connect({ servers: nats.servers });
  cp = await ProcessCluster.start(nats.servers[0]!, [1, 2, 3]);
  await cp.waitLeader();
}, 60_000);

afterAll(async () => {
  await device?.close().catch(() => undefined);
  for (const n of nodes.values()) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill("SIGKILL");
  await cp?.stop();
  await nc?.close();
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("orchestration chaos: kill -9 of a singleton holder", () => {
  it("moves every singleton it held to a live node, which runs the work (backups, command retries)", async () => {
    for (const id of ["chaos-1", "chaos-2", "chaos-3"]) startNode(id);
    const detail = { timeoutMs: 60_000, detail: logs };
    await waitFor("three members up", async () => (await members()).filter((m) => m.status === "up").length === 3, detail);
    const holder = await waitFor("a holder of the backup singleton", async () => singletonHolders(await members()).find((s) => s.lease === BACKUP_LEASE)?.nodeId, detail);
    const catalog = await waitFor("the backup catalog", () => BackupCatalog.bindKv(nc), detail);
    await waitFor(`a backup by ${holder}`, async () => (await catalog.list()).some((b) => b.node === holder), detail);
    const heldBefore = await waitFor(`${holder}'s leases in one view`, async () => {
      const held = singletonHolders(await members()).filter((s) => s.nodeId === holder).map((s) => s.lease);
      return held.includes(BACKUP_LEASE) ? held : undefined;
    }, detail);

    const killedAtMs = Date.now();
    nodes.get(holder)!.child.kill("SIGKILL");
    const taker = await waitFor("another node to announce the backup lease", async () => {
      const h = singletonHolders(await members()).find((s) => s.lease === BACKUP_LEASE);
      return h && h.nodeId !== holder ? { nodeId: h.nodeId, atMs: Date.now() } : undefined;
    }, detail);
    const backup = await waitFor(`a backup by ${taker.nodeId} after the kill`, async () =>
      (await catalog.list()).find((b) => b.node === taker.nodeId && b.createdAtMs > killedAtMs), detail);
    expect(existsSync(path.join(backup.dir, "manifest.json"))).toBe(true);
    expect(backup.sources).toContain("control");
    // Everything the dead node held now runs on a live node.
    const after = await waitFor("every lease of the dead node on a live one", async () => {
      const s = singletonHolders(await members());
      return heldBefore.every((lease) => s.some((h) => h.lease === lease && h.nodeId !== holder)) ? s : undefined;
    }, detail);

    // A command sent after the kill: its first copy is lost, a surviving node retries it until the ack.
    const api = new ApiClient(nc, { timeoutMs: 20_000 });
    await api.register("chaos-dev");
    device = await startTestDevice({ deviceId: "chaos-dev", mqttUrl: nats.nodes[0]!.mqttUrl, dropFirstCommands: 1 });
    const sent = await api.sendCommand({ deviceId: "chaos-dev", name: "valve.open", timeoutMs: 30_000 });
    expect(sent.command).toMatchObject({ state: "acked", ack: { status: "ok" } });
    expect(sent.command.attempts).toBeGreaterThanOrEqual(2);
    expect(device.executed.get(sent.command.commandId)).toBe(1);

    console.log(`[recovery] chaos: killed ${holder} (held ${heldBefore.join(", ")}); ${taker.nodeId} announced ${BACKUP_LEASE} ` +
      `${taker.atMs - killedAtMs} ms later (lease TTL ${LEASE_TTL_MS} ms) and wrote ${backup.name} ${backup.createdAtMs - killedAtMs} ms after the kill; ` +
      `now ${after.map((s) => `${s.lease}@${s.nodeId}`).join(", ")}; a command sent afterwards was acked after ${sent.command.attempts} attempts`);
  }, 180_000);
});
