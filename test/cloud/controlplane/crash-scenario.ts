// The crash scenario shared by the 3- and 5-node tests: clients read and
// compare-and-set device records (metadata at an expected revision) while replicas are kill -9'd and restarted
// from their data dirs; then the history is checked for linearizability and
// every acknowledged write is looked for in the final state.
import { expect } from "vitest";
import { performance } from "node:perf_hooks";
import { ControlClient, ControlTimeoutError } from "../../../cloud/controlplane/client";
import { CommandKind } from "../../../cloud/control";
import { checkOperations, CheckResult, kvModel, type KvOperation } from "../../../cloud/check/lincheck";
import type { ProcessCluster } from "../../harness/control-plane";
import { sleep } from "../../harness/wait";

const KEYS = ["k0", "k1", "k2", "k3"];
const WORKERS = 6;

interface Worker {
  client: ControlClient;
  history: KvOperation[];
  acked: Map<string, number>;
  unknown: Map<string, number>;
}

type DeviceRead = Awaited<ReturnType<ControlClient["getDevice"]>>;

/** A register's state: "<version>:<val>", version = writes = revision - 1 (registration is revision 1); null before the first write. */
function stateOf(r: DeviceRead): string | null {
  if (r.ok) return r.value.revision === 1 ? null : `${r.value.revision - 1}:${String(r.value.metadata["val"])}`;
  throw new Error(`unexpected device.get result ${JSON.stringify(r)}`);
}

async function runWorker(w: Worker, wid: number, stop: () => boolean): Promise<void> {
  let n = 0;
  while (!stop()) {
    const key = KEYS[(wid + n) % KEYS.length]!;
    n++;
    // Read (recorded), then CAS from what was read.
    const t0 = performance.now();
    let read: string | null;
    try {
      read = stateOf(await w.client.getDevice(key));
    } catch (err) {
      if (!(err instanceof ControlTimeoutError)) throw err;
      w.history.push({ clientId: wid, input: { op: "get", key }, output: undefined, callTime: t0, returnTime: Number.POSITIVE_INFINITY });
      continue;
    }
    w.history.push({ clientId: wid, input: { op: "get", key }, output: { value: read }, callTime: t0, returnTime: performance.now() });
    const version = read === null ? 0 : Number(read.split(":")[0]);
    const val = `w${wid}-${n}`;
    const to = `${version + 1}:${val}`;
    const t1 = performance.now();
    try {
      const r = await w.client.command({ kind: CommandKind.DeviceUpdateMetadata, deviceId: key, metadata: { val }, expectedRevision: version + 1 });
      if (!r.ok && r.code !== "conflict") throw new Error(`unexpected device.update-metadata result ${JSON.stringify(r)}`);
      w.history.push({ clientId: wid, input: { op: "cas", key, from: read, to }, output: { ok: r.ok }, callTime: t1, returnTime: performance.now() });
      if (r.ok) w.acked.set(key, (w.acked.get(key) ?? 0) + 1);
    } catch (err) {
      if (!(err instanceof ControlTimeoutError)) throw err;
      w.history.push({ clientId: wid, input: { op: "cas", key, from: read, to }, output: undefined, callTime: t1, returnTime: Number.POSITIVE_INFINITY });
      w.unknown.set(key, (w.unknown.get(key) ?? 0) + 1);
    }
  }
}

export interface CrashScenario {
  readonly rounds: number;
  /** Replicas to kill in a round, given the current leader (kill -9 all, then restart all). */
  victims(round: number, leader: number, ids: number[]): number[];
  /**
   * Rounds that SIGSTOP the leader instead: once a new leader has taken
   * writes, reads pinned to the paused one are sent, then it resumes
   * believing it still leads. Serving them without ReadIndex would return
   * stale values for reads that began after newer writes completed.
   */
  pauseRounds?: readonly number[];
}

/** Reads pinned to a deposed leader, recorded like any other op when they succeed. */
async function staleLeaderReads(cluster: ProcessCluster, leader: number, history: KvOperation[]): Promise<void> {
  cluster.suspend(leader);
  await cluster.waitLeader(30_000, leader);
  await sleep(3000); // workers time out on the paused leader, find the new one and write
  const pinned = new ControlClient(cluster.nc, { timeoutMs: 15_000, attemptTimeoutMs: 15_000 });
  const reads = KEYS.map(async (key) => {
    const t = performance.now();
    const r = (await pinned.request("device.get", { deviceId: key }, undefined, leader)) as DeviceRead | { ok: false; code: string };
    if (!r.ok) return; // refused (not-leader): no effect to record
    history.push({ clientId: 1000, input: { op: "get", key }, output: { value: stateOf(r as DeviceRead) }, callTime: t, returnTime: performance.now() });
  });
  await sleep(300);
  cluster.resume(leader);
  await Promise.all(reads);
}

export async function runCrashScenario(cluster: ProcessCluster, scenario: CrashScenario): Promise<void> {
    const admin = new ControlClient(cluster.nc, { timeoutMs: 30_000 });
    for (const k of KEYS) expect((await admin.registerDevice(k, "sensor")).ok).toBe(true);

    const workers: Worker[] = Array.from({ length: WORKERS }, (_, i) => ({
      client: new ControlClient(cluster.nc, { clientId: `worker-${i}`, timeoutMs: 20_000, attemptTimeoutMs: 2_500 }),
      history: [], acked: new Map(), unknown: new Map(),
    }));
    let stopping = false;
    const running = workers.map((w, i) => runWorker(w, i, () => stopping));

    const killed: string[] = [];
    const pausedReads: KvOperation[] = [];
    for (let round = 0; round < scenario.rounds; round++) {
      await sleep(1500);
      const leader = await cluster.waitLeader(30_000);
      if (scenario.pauseRounds?.includes(round)) {
        killed.push(`pause ${leader}(leader)`);
        await staleLeaderReads(cluster, leader, pausedReads);
        continue;
      }
      const victims = scenario.victims(round, leader, cluster.ids());
      killed.push(victims.map((v) => `${v}${v === leader ? "(leader)" : ""}`).join("+"));
      await Promise.all(victims.map((v) => cluster.kill9(v)));
      await sleep(1000);
      for (const v of victims) cluster.restart(v);
    }
    await cluster.waitLeader(30_000);
    await sleep(1000);
    stopping = true;
    await Promise.all(running);

    // Final reads, recorded too, after every replica caught up.
    const history = [...workers.flatMap((w) => w.history), ...pausedReads];
    for (const key of KEYS) {
      const t = performance.now();
      const final = stateOf(await admin.getDevice(key));
      history.push({ clientId: 999, input: { op: "get", key }, output: { value: final }, callTime: t, returnTime: performance.now() });
      const acked = workers.reduce((s, w) => s + (w.acked.get(key) ?? 0), 0);
      const unknown = workers.reduce((s, w) => s + (w.unknown.get(key) ?? 0), 0);
      const version = final === null ? 0 : Number(final.split(":")[0]);
      // Every acknowledged CAS is one version; unknown ones may or may not have applied.
      expect(version).toBeGreaterThanOrEqual(acked);
      expect(version).toBeLessThanOrEqual(acked + unknown);
    }
    const writes = history.filter((o) => o.input.op === "cas" && o.output?.ok === true).length;
    console.log(`chaos: ${killed.join(", ")}; ${history.length} ops, ${writes} acknowledged writes, ` +
      `${history.filter((o) => o.output === undefined).length} unknown, retries ${workers.reduce((s, w) => s + w.client.retries, 0)}`);
    expect(writes).toBeGreaterThan(20);

    const report = checkOperations(kvModel, history);
    if (report.result === CheckResult.Illegal) {
      console.error(report.failingPartition!.map((op) => kvModel.describe!(op)).join("\n"));
    }
    expect(report.result).toBe(CheckResult.Ok);

    const leaderStatus = await cluster.statusOf(await cluster.waitLeader());
    const converged = await cluster.waitConverged(leaderStatus!.commit, 30_000);
    console.log(`converged at ${converged[0]!.applied}; snapshots at ${converged.map((s) => `${s.id}:${s.snapshotIndex}`).join(" ")}`);
}
