// A 3-node NATS cluster (R3 streams, KV and MQTT sessions), two ingest nodes
// sharing the durable consumers, 20 simulated devices running the real
// firmware runtime (firmware/host/sim-device: persisted outbox, seq, will,
// several broker URLs), replaying room-climate traces. During the run:
// one ingest node stops acking and is SIGKILLed, one device loses its network
// and backfills, one NATS server is stopped. Every telemetry point must end
// up exactly once in device state and on the output subject (XSF_OUT).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { startNats, type NatsCluster } from "../../harness/nats";
import { admitAllDevices, startIngestRole, type IngestRole, type IngestStats } from "../../../cloud/ingest";
import type { OutTelemetryJson } from "../../../cloud/records";
import { DeviceStateStore } from "../../../cloud/state";
import { decodeEnvelope } from "../../../shared/proto/xsfleet.gen";
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
// Small pulls so the two nodes share the load at this modest rate.
const ingestConfig = { replicas: 3, ackWaitMs: 2_000, sweepIntervalMs: 500, batchMax: 16, prefetchMax: 32, maxAckPending: 1024 };
const childStopsAckingAfter = 30;

describe("ingest on a 3-node NATS cluster with two ingest nodes", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let roleA: IngestRole;
  let child: ChildProcess | null = null;
  const devices: SimDevice[] = [];
  const teleSeqs = new Map<string, Set<number>>();
  let stateDir = "";

  beforeAll(async () => {
    nats = await startNats({ size: 3 });
    stateDir = mkdtempSync(path.join(tmpdir(), "xsfleet-ingest-fleet-"));
    nc = await connect({ servers: nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    js = jetstream(nc);
    roleA = await startIngestRole({ admission: admitAllDevices, nc, nodeId: "ingest-a", log: consoleLog, config: ingestConfig });
  });
  afterAll(async () => {
    child?.kill("SIGKILL");
    for (const d of devices) d.crash();
    await roleA?.stop();
    await nc?.close();
    await nats?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("applies every point exactly once through an ingest crash, a device outage and a NATS server stop", async () => {
    // Ingest node B in a child process: after some acks it stops acking, later it is killed.
    const childArgs = [nats.servers.join(","), "ingest-b", JSON.stringify(ingestConfig), String(childStopsAckingAfter)];
    child = spawn(process.execPath, ["--import", "tsx", path.join(here, "ingest-child.ts"), ...childArgs], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let childStats = null as IngestStats | null;
    let childReady = false;
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        if (line === "ready") childReady = true;
        else if (line.startsWith("{")) childStats = JSON.parse(line) as IngestStats;
      }
    });
    await waitFor("ingest-b ready", () => childReady);
    const t0 = Date.now();
    const phase = (name: string): void => { if (process.env.XSF_TRACE) console.log(`${Date.now() - t0} ms: ${name}`); };

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
    await waitFor("ingest-b holds unacked messages", () => (childStats?.messages ?? 0) >= childStopsAckingAfter + 20, 20_000);
    child.kill("SIGKILL");
    phase("ingest-b killed");
    const victim = devices[3]!;
    victim.cutNetwork();
    await waitFor("outbox grows while offline", () => victim.stats().outboxDepth >= 5);
    victim.restoreNetwork();
    phase("victim restored");
    // Stop a server that is not XSF_TELE's leader (preferably the telemetry
    // consumer's): see docs/ingest.md, "Limits" — nats-server 2.9 PUBACKs an
    // MQTT QoS 1 publish before the capturing stream stores it, so stopping
    // the stream leader can lose a message the device saw acknowledged.
    const jsm0 = await js.jetstreamManager();
    const teleLeader = (await jsm0.streams.info("XSF_TELE")).cluster?.leader;
    const consumerLeader = (await jsm0.consumers.info("XSF_TELE", "xsf-ingest-tele")).cluster?.leader;
    const candidates = nats.nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.name !== teleLeader);
    const stopIdx = (candidates.find(({ n }) => n.name === consumerLeader) ?? candidates[0]!).i;
    await nats.stopNode(stopIdx);
    phase(`nats ${nats.nodes[stopIdx]!.name} stopped (tele leader ${teleLeader}, consumer leader ${consumerLeader})`);
    const ackedAtStop = devices.map((d) => d.stats().acked);
    await waitFor("run time", () => Date.now() - t0run >= runMs, runMs + 10_000);
    // Every device kept delivering after the stop (those connected to the
    // stopped server reconnected to another of their URLs).
    await waitFor("every device delivered after the server stop", () => devices.every((d, i) => d.stats().acked > ackedAtStop[i]!));
    // Clean stop: each device flushes its last batch and waits for its PUBACKs.
    await Promise.all(devices.map((d) => d.stop()));
    phase("devices stopped");
    for (const d of devices) expect(d.stats().dropped, `${d.deviceId} dropped nothing`).toBe(0);
    // What the system accepted: every telemetry message in XSF_TELE, once per
    // seq (retransmits repeat a seq), with its point count.
    const jsFast = jetstream(nc, { timeout: 1_500 });
    const accepted = new Map<string, Map<number, number>>();
    const arrivals = new Map<string, number[]>();
    for (const m of await readStream(jsFast, "XSF_TELE", "xsfleet.v1.dev.*.tele")) {
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
      const c = await jsFast.jetstreamManager().then((m) => m.consumers.info("XSF_TELE", "xsf-ingest-tele")).catch((e: unknown) => String(e));
      const devId = missing.split(":")[0]!;
      const outSeqs = (await readStream(jsFast, "XSF_OUT", `xsfleet.v1.out.${devId}.telemetry`)).map((m) => (JSON.parse(new TextDecoder().decode(m.data)) as OutTelemetryJson).seq);
      const st = await store.getDeviceState(devId);
      throw new Error(`${String(err)}; ${missing}; accepted ${[...accepted.get(devId)!.keys()].join(",")}; out ${outSeqs.join(",")}; ` +
        `state ${JSON.stringify(st?.telemetry)}; ingest-a ${JSON.stringify(roleA.stats())}; consumer ${JSON.stringify(c)}`);
    });
    phase("state complete");
    // The crash took messages with it: wait until the consumer has no unacked left.
    const jsm = await js.jetstreamManager();
    await waitFor("telemetry consumer drained", async () => {
      const c = await jsm.consumers.info("XSF_TELE", "xsf-ingest-tele");
      return c.num_pending + c.num_ack_pending === 0;
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
    console.log(JSON.stringify({
      ingestA: { messages: a.messages, applied: a.applied, duplicates: a.duplicates, redeliveries: a.redeliveries, casRetries: a.casRetries, batchFailures: a.batchFailures, lostUpdatesRepaired: a.lostUpdatesRepaired },
      ingestB: childStats && { messages: childStats.messages, applied: childStats.applied },
      devicePublished: devices.reduce((n, d) => n + d.stats().published, 0),
      deviceAcked: devices.reduce((n, d) => n + d.stats().acked, 0),
    }));
    expect(a.redeliveries, "ingest-a took over ingest-b's unacked messages").toBeGreaterThan(0);
  }, 120_000);
});
