// A 3-node NATS cluster (R3 streams, KV and MQTT sessions) mapping device
// uplinks into 16 partitions, a Raft control plane (one replica, in this
// process), three ingest nodes — A here, B and C in child processes — that
// share the partitions fairly through leases, and 20 simulated devices
// running the real firmware runtime (firmware/host/sim-device: persisted
// outbox, seq, will, several broker URLs), replaying room-climate traces.
// During the run: B stops acking and is SIGKILLed (its partitions move to A
// and C), one device loses its network and backfills, one NATS server is
// stopped. Every telemetry point must end up exactly once in device state
// and on the output subject (XSF_OUT), and no device state is written by two
// owners (foreign writes 0 on every node).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { startNats, type NatsCluster } from "../../harness/nats";
import { admitAllDevices, partitionConsumerName, startIngestRole, type IngestRole, type IngestStats } from "../../../cloud/ingest";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { ControlClient } from "../../../cloud/controlplane";
import type { OutTelemetryJson } from "../../../cloud/records";
import { DeviceStateStore } from "../../../cloud/state";
import { decodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import { devicePartition } from "../../../shared/topics";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { startSimDevice, type SimDevice } from "../../../firmware/host/sim-device";
import { waitFor } from "../../harness/wait";
import { consoleLog, readStream } from "./helpers";

const here = path.dirname(fileURLToPath(import.meta.url));
const devicesN = 20;
/** Each device samples every 20 ms and sends a batch per 10 points (or 300 ms). */
const sampleIntervalMs = 20;
const batchPointsMax = 10;
const runMs = 6_000;
const partitions = 16;
// Small pulls at this modest rate; a short lease so B's partitions move quickly.
const ingestConfig = { replicas: 3, ackWaitMs: 2_000, sweepIntervalMs: 500, batchMax: 16, prefetchMax: 32, maxAckPending: 1024, partitions, ownershipTtlMs: 3_000 };
const childStopsAckingAfter = 30;

/** An ingest node in a child process, with the stats it last printed. */
interface Child { proc: ChildProcess; ready: boolean; stats: IngestStats | null }

function spawnIngest(servers: string[], nodeId: string, stopAckingAfter: number): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(here, "ingest-child.ts"), servers.join(","), nodeId, JSON.stringify(ingestConfig), String(stopAckingAfter)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const c: Child = { proc, ready: false, stats: null };
  let buf = "";
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buf += chunk;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const line of lines) {
      if (line === "ready") c.ready = true;
      else if (line.startsWith("{")) c.stats = JSON.parse(line) as IngestStats;
    }
  });
  return c;
}

describe("ingest on a 3-node NATS cluster with three ingest nodes owning 16 partitions", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let cp: InProcessControlPlane;
  let roleA: IngestRole;
  const children: Child[] = [];
  const devices: SimDevice[] = [];
  const teleSeqs = new Map<string, Set<number>>();
  let stateDir = "";

  beforeAll(async () => {
    nats = await startNats({ size: 3, partitions });
    stateDir = mkdtempSync(path.join(tmpdir(), "xsfleet-ingest-fleet-"));
    nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    js = jetstream(nc);
    cp = await startControlPlaneInProcess(nats.servers[0]!);
    const control = new ControlClient(nc, { clientId: "ingest-a", timeoutMs: 5_000, attemptTimeoutMs: 1_500 });
    roleA = await startIngestRole({ admission: admitAllDevices, nc, nodeId: "ingest-a", log: consoleLog, config: ingestConfig, control: control.proposer() });
  });
  afterAll(async () => {
    for (const c of children) c.proc.kill("SIGKILL");
    for (const d of devices) d.crash();
    await roleA?.stop();
    await cp?.stop();
    await nc?.close();
    await nats?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("shares the partitions fairly, moves a killed node's partitions, and applies every point exactly once with one writer per device", async () => {
    // Ingest node B: after some acks it stops acking, later it is killed. C runs throughout.
    const b = spawnIngest(nats.servers, "ingest-b", childStopsAckingAfter);
    const c = spawnIngest(nats.servers, "ingest-c", 1_000_000_000);
    children.push(b, c);
    await waitFor("ingest-b and ingest-c ready", () => b.ready && c.ready, 60_000);
    const t0 = Date.now();
    const phase = (name: string): void => { if (process.env.XSF_TRACE) console.log(`${Date.now() - t0} ms: ${name}`); };
    // Fair share: 16 partitions over 3 nodes, 5 or 6 each, every partition owned once.
    const owned = (): number[][] => [roleA.stats().partitionsOwned, b.stats?.partitionsOwned ?? [], c.stats?.partitionsOwned ?? []];
    await waitFor("16 partitions shared 6/5/5 by three nodes", () => {
      const o = owned();
      return o.every((x) => x.length === 5 || x.length === 6) && new Set(o.flat()).size === partitions && o.flat().length === partitions;
    }, 60_000);
    const bPartitions = [...b.stats!.partitionsOwned];
    phase(`shared ${JSON.stringify(owned())}`);

    // Devices: each lists the brokers starting from a different one.
    const mqttUrls = nats.nodes.map((n) => n.mqttUrl);
    for (let d = 0; d < devicesN; d++) {
      const id = `fleet-${String(d).padStart(2, "0")}`;
      const seqs = new Set<number>();
      teleSeqs.set(id, seqs);
      const dev = await startSimDevice({
        deviceId: id, brokerUrl: [...mqttUrls.slice(d % 3), ...mqttUrls.slice(0, d % 3)], stateDir: path.join(stateDir, id),
        sampleIntervalMs, batchPointsMax, batchAgeMaxMs: 300, heartbeatIntervalMs: 500, speedup: 50, keepaliveS: 2,
        backoff: { baseMs: 100, capMs: 1_000 }, fsync: false, seed: 1000 + d,
      });
      const published = new Set<number>();
      dev.on("published", (e) => { if (e.kind === "tele") published.add(e.seq); });
      // Acked by the broker (removed from the outbox): must never be lost.
      dev.on("acked", (e) => { if (published.has(e.seq)) seqs.add(e.seq); });
      devices.push(dev);
    }
    const t0run = Date.now();

    // Faults, in the middle of the run.
    await waitFor("devices connected", () => devices.every((d) => d.stats().connects > 0));
    // B holds applied-but-unacked messages (and maybe fetched, unprocessed ones) when it dies.
    await waitFor("ingest-b holds unacked messages", () => (b.stats?.messages ?? 0) >= childStopsAckingAfter + 20, 20_000);
    b.proc.kill("SIGKILL");
    const killedAt = Date.now();
    phase("ingest-b killed");
    // Its partitions move to A and C once its membership and leases lapse (TTL 3 s + a tick).
    await waitFor("A and C own all 16 partitions, 8 each", () => {
      const [a, , cc] = owned();
      return a!.length === 8 && cc!.length === 8 && new Set([...a!, ...cc!]).size === partitions;
    }, 30_000);
    const movedMs = Date.now() - killedAt;
    phase(`B's partitions ${JSON.stringify(bPartitions)} moved in ${movedMs} ms`);
    const victim = devices[3]!;
    victim.cutNetwork();
    await waitFor("outbox grows while offline", () => victim.stats().outboxDepth >= 5);
    victim.restoreNetwork();
    phase("victim restored");
    // Stop a server that is not XSF_UP's leader (nor node 0, where the
    // control-plane replica connects): see docs/ingest.md, "Limits" —
    // nats-server 2.9 PUBACKs an MQTT QoS 1 publish before the capturing
    // stream stores it, so stopping the stream leader can lose a message the
    // device saw acknowledged (end-to-end receipts close that, docs/delivery.md).
    const jsm0 = await js.jetstreamManager();
    const upLeader = (await jsm0.streams.info("XSF_UP")).cluster?.leader;
    const stopIdx = nats.nodes.map((n, i) => ({ n, i })).find(({ n, i }) => i > 0 && n.name !== upLeader)!.i;
    await nats.stopNode(stopIdx);
    phase(`nats ${nats.nodes[stopIdx]!.name} stopped (XSF_UP leader ${upLeader})`);
    const ackedAtStop = devices.map((d) => d.stats().acked);
    await waitFor("run time", () => Date.now() - t0run >= runMs, runMs + 10_000);
    // Every device kept delivering after the stop (those connected to the
    // stopped server reconnected to another of their URLs).
    await waitFor("every device delivered after the server stop", () => devices.every((d, i) => d.stats().acked > ackedAtStop[i]!));
    // Clean stop: each device flushes its last batch and waits for its PUBACKs.
    await Promise.all(devices.map((d) => d.stop()));
    phase("devices stopped");
    for (const d of devices) expect(d.stats().dropped, `${d.deviceId} dropped nothing`).toBe(0);
    // What the system accepted: every telemetry message in XSF_UP, once per
    // seq (retransmits repeat a seq), with its point count.
    const jsFast = jetstream(nc, { timeout: 1_500 });
    const accepted = new Map<string, Map<number, number>>();
    const arrivals = new Map<string, number[]>();
    for (const m of await readStream(jsFast, "XSF_UP", "xsfleet.v1.p.*.dev.*.tele")) {
      const env = decodeEnvelope(m.data);
      const per = accepted.get(env.deviceId) ?? new Map<number, number>();
      per.set(env.seq, env.telemetry!.pointCount);
      accepted.set(env.deviceId, per);
      arrivals.set(env.deviceId, [...(arrivals.get(env.deviceId) ?? []), env.seq]);
    }
    for (const d of devices) {
      const acc = accepted.get(d.deviceId)!;
      for (const q of teleSeqs.get(d.deviceId)!) expect(acc.has(q), `${d.deviceId} acked seq ${q} is stored`).toBe(true);
    }

    const store = await DeviceStateStore.open(nc);
    let missing = "";
    await waitFor("every device complete in state", async () => {
      for (const dev of devices) {
        const s = await store.getDeviceState(dev.deviceId);
        if (!s || s.telemetry.batches < accepted.get(dev.deviceId)!.size) {
          missing = `${dev.deviceId}: ${s?.telemetry.batches ?? "no state"} of ${accepted.get(dev.deviceId)!.size}`;
          return false;
        }
      }
      return true;
    }, 50_000).catch(async (err: unknown) => {
      const devId = missing.split(":")[0]!;
      const c = await jsFast.jetstreamManager().then((m) => m.consumers.info("XSF_UP", partitionConsumerName(devicePartition(devId, partitions)))).catch((e: unknown) => String(e));
      const outSeqs = (await readStream(jsFast, "XSF_OUT", `xsfleet.v1.out.${devId}.telemetry`)).map((m) => (JSON.parse(new TextDecoder().decode(m.data)) as OutTelemetryJson).seq);
      const st = await store.getDeviceState(devId);
      throw new Error(`${String(err)}; ${missing}; accepted ${[...accepted.get(devId)!.keys()].join(",")}; out ${outSeqs.join(",")}; ` +
        `state ${JSON.stringify(st?.telemetry)}; ingest-a ${JSON.stringify(roleA.stats())}; consumer ${JSON.stringify(c)}`);
    });
    phase("state complete");
    // The crash took messages with it: wait until the consumer has no unacked left.
    const jsm = await js.jetstreamManager();
    await waitFor("every partition consumer drained", async () => {
      for (let n = 0; n < partitions; n++) {
        const ci = await jsm.consumers.info("XSF_UP", partitionConsumerName(n));
        if (ci.num_pending + ci.num_ack_pending !== 0) return false;
      }
      return true;
    }, 30_000);

    phase("consumer drained");
    // One read of the whole output stream (with a server down, each consumer
    // creation may need retries: see addEphemeralConsumer).
    const outByDevice = new Map<string, number[]>();
    for (const m of await readStream(jsFast, "XSF_OUT", "xsfleet.v1.out.*.telemetry")) {
      const o = JSON.parse(new TextDecoder().decode(m.data)) as OutTelemetryJson;
      outByDevice.set(o.deviceId, [...(outByDevice.get(o.deviceId) ?? []), o.seq]);
    }
    for (const dev of devices) {
      const s = (await store.getDeviceState(dev.deviceId))!;
      const acc = accepted.get(dev.deviceId)!;
      // Every accepted point, applied exactly once.
      const points = [...acc.values()].reduce((a, b) => a + b, 0);
      expect(s.telemetry, dev.deviceId).toMatchObject({ batches: acc.size, points });
      const seqs = outByDevice.get(dev.deviceId) ?? [];
      expect(new Set(seqs).size, `${dev.deviceId} out duplicates`).toBe(seqs.length);
      expect([...seqs].sort((a, b) => a - b), `${dev.deviceId} out seqs`).toEqual([...acc.keys()].sort((a, b) => a - b));
    }

    phase("out verified");
    // The device that lost its network backfilled in order: the first arrival
    // of each of its telemetry seqs came in increasing order (retransmits of
    // messages in flight at the cut repeat earlier seqs; those are skipped).
    const arrived = arrivals.get(victim.deviceId)!;
    const firsts: number[] = [];
    const seenSeq = new Set<number>();
    for (const q of arrived) if (!seenSeq.has(q)) { seenSeq.add(q); firsts.push(q); }
    expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
    expect(firsts.length).toBe(accepted.get(victim.deviceId)!.size);

    const a = roleA.stats();
    const cs = c.stats!;
    const brief = (s: IngestStats) => ({ messages: s.messages, applied: s.applied, duplicates: s.duplicates, redeliveries: s.redeliveries, foreignWrites: s.foreignWrites, batchFailures: s.batchFailures, partitions: s.partitionsOwned.length, acquired: s.partitionsAcquired });
    console.log(JSON.stringify({
      ingestA: brief(a), ingestB: b.stats && brief(b.stats), ingestC: brief(cs), partitionsMovedMs: movedMs,
      devicePublished: devices.reduce((n, d) => n + d.stats().published, 0),
      deviceAcked: devices.reduce((n, d) => n + d.stats().acked, 0),
    }));
    expect(a.redeliveries + cs.redeliveries, "A and C took over B's unacked messages").toBeGreaterThan(0);
    // One writer per device: no state write ever met another writer's.
    expect([a.foreignWrites, b.stats?.foreignWrites ?? 0, cs.foreignWrites]).toEqual([0, 0, 0]);
  }, 120_000);
});
