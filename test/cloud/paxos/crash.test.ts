// kill -9 of CASPaxos acceptor processes while clients write. Six clients
// (each its own proposer over NATS, no leader) read, put and compare-and-set
// four keys with exactly-once writes (cloud/paxos/sim kv-register); rounds
// kill -9 one acceptor, then two at once (no majority: operations fail or
// end unknown), then all three, restarting them from their data dirs.
// Checks: the whole history, with final reads, is linearizable
// (cloud/check/lincheck), and every acknowledged write survived: each key's
// final version is at least its acknowledged writes and at most those plus
// the writes whose outcome is unknown.
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckResult, checkOperations, kvModel, type KvInput, type KvOperation, type KvOutput } from "../../../cloud/check/lincheck";
import type { PaxosClient } from "../../../cloud/paxos/client";
import { kvChange } from "../../../cloud/paxos/sim";
import { AcceptorCluster } from "../../harness/paxos";
import { startNats, type NatsCluster } from "../../harness/nats";
import { sleep } from "../../harness/wait";

const KEYS = ["k0", "k1", "k2", "k3"];
const WORKERS = 6;

let nats: NatsCluster;
let cluster: AcceptorCluster;

beforeAll(async () => {
  nats = await startNats();
  // A small log so compaction and snapshot loading happen across restarts.
  cluster = await AcceptorCluster.start(nats.servers[0]!, [1, 2, 3], { extraArgs: ["--log-bytes-max", "16384"] });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
});

interface Worker {
  readonly id: number;
  readonly client: PaxosClient;
  readonly history: KvOperation[];
  seq: number;
  lastSeen: Map<string, string | null>;
}

async function runWorker(w: Worker, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const key = KEYS[Math.floor(Math.random() * KEYS.length)]!;
    const seq = ++w.seq;
    const roll = Math.random();
    const input: KvInput = roll < 0.35 ? { op: "get", key }
      : roll < 0.7 ? { op: "put", key, value: `w${w.id}-${seq}` }
      : { op: "cas", key, from: w.lastSeen.get(key) ?? null, to: `w${w.id}-${seq}` };
    const t0 = performance.now();
    const o = await w.client.change(key, kvChange(`w${w.id}`, seq, input));
    if (o.ok) {
      const out = o.result as KvOutput;
      w.history.push({ clientId: w.id, input, output: out, callTime: t0, returnTime: performance.now() });
      if (input.op === "get") w.lastSeen.set(key, out.value ?? null);
      if (input.op === "put") w.lastSeen.set(key, input.value);
      if (input.op === "cas" && out.ok) w.lastSeen.set(key, input.to);
    } else if (o.applied === "unknown") {
      w.history.push({ clientId: w.id, input, output: undefined, callTime: t0, returnTime: Number.POSITIVE_INFINITY });
    } else if (o.error !== "unavailable") {
      throw new Error(`worker ${w.id}: ${o.error}: ${o.message}`);
    }
  }
}

const isWrite = (op: KvOperation): boolean => op.input.op === "put" || op.input.op === "cas";

describe("3 acceptor processes under kill -9", () => {
  it("keeps every acknowledged write and a linearizable history", async () => {
    const workers: Worker[] = Array.from({ length: WORKERS }, (_, i) => ({
      id: i + 1, client: cluster.client({ name: `worker-${i + 1}`, attemptTimeoutMs: 400, attemptsMax: 8 }), history: [], seq: 0, lastSeen: new Map(),
    }));
    let stopping = false;
    const running = workers.map((w) => runWorker(w, () => stopping));
    const rounds = [[1], [3, 1], [2], [1, 2, 3], [3]];
    const log: string[] = [];
    for (const victims of rounds) {
      await sleep(1000);
      const before = workers.reduce((n, w) => n + w.history.length, 0);
      await Promise.all(victims.map((v) => cluster.kill9(v)));
      await sleep(victims.length > 1 ? 1500 : 800);
      for (const v of victims) cluster.spawn(v);
      await Promise.all(victims.map((v) => cluster.waitUp(v)));
      log.push(`kill -9 ${victims.join("+")} (ops so far ${before})`);
    }
    await sleep(1000);
    stopping = true;
    await Promise.all(running);

    const history = workers.flatMap((w) => w.history);
    const checker = cluster.client({ name: "checker" });
    for (const key of KEYS) {
      const t = performance.now();
      const o = await checker.change(key, kvChange("checker", 1, { op: "get", key }));
      if (!o.ok) throw new Error(`final read of ${key} failed: ${o.message}`);
      history.push({ clientId: 999, input: { op: "get", key }, output: o.result, callTime: t, returnTime: performance.now() });
      const mine = history.filter((op) => op.input.key === key && isWrite(op));
      const acked = mine.filter((op) => op.output !== undefined && (op.input.op === "put" || op.output.ok === true)).length;
      const unknown = mine.filter((op) => op.output === undefined).length;
      expect(o.state.version).toBeGreaterThanOrEqual(acked);
      expect(o.state.version).toBeLessThanOrEqual(acked + unknown);
    }
    await checker.close();
    await Promise.all(workers.map((w) => w.client.close()));
    const acknowledged = history.filter((op) => isWrite(op) && op.output !== undefined).length;
    const statuses = await Promise.all(cluster.ids.map((id) => cluster.status(id)));
    console.log(`paxos chaos: ${log.join(", ")}; ${history.length} ops, ${acknowledged} acknowledged writes, ` +
      `${history.filter((o) => o.output === undefined).length} unknown; snapshots ${statuses.map((s) => s?.snapshots).join("/")}`);
    expect(acknowledged).toBeGreaterThan(50);
    const report = checkOperations(kvModel, history);
    if (report.result === CheckResult.Illegal) console.error(report.failingPartition!.map((op) => kvModel.describe!(op)).join("\n"));
    expect(report.result).toBe(CheckResult.Ok);
  }, 120_000);
});
