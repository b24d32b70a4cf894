// Seeded simulation of ingest's per-device pipeline (pipeline.ts, the code
// the product runs) on 1-3 nodes sharing one consumer, with simulated
// devices that keep their messages until a receipt names them
// (devices.ts), and faults: node crashes at any point of the order of
// effects (before or after publish, before or after the CAS, before the
// ack), lost requests and lost replies on the store and the publisher,
// redelivery after ack wait and naks, publishes lost after the PUBACK (the
// nats-server 2.9 MQTT path), lost receipts and the retransmits they cause,
// duplicated sends, corrupt messages, devices wiping their flash (a new
// epoch) or upgraded from firmware without epochs (0 -> e), a poison seq
// (2^31) on a device's topic, and a flooding device against the per-device
// rate limit. One seed decides everything; a failure prints it, and the
// same seed replays the same run. The store is linearizable by construction
// (one writer per device is the partition design's job: nodes here share
// one consumer, a superset of the product, where a partition has one owner
// at a time (partition-worker.ts) and a CAS conflict is a counted foreign write).
//
// Not modelled: core-NATS out messages (outDurable off: lost in a crash by
// design), live kinds (hello, hb, status, ctr: idempotent, see
// test/cloud/ingest/apply.test.ts), the registry gate (admits every device).

import { Uplink } from "../../../shared/topics";
import { deviceSubject } from "../../subjects";
import { Prng, randomInt, seededRandom, silentLogger, type RandomSource } from "../../base";
import { DeviceLocks, StateCache } from "../cache";
import { admitAllDevices, IngestPipeline } from "../pipeline";
import { DeviceRateLimiter } from "../rate-limit";
import { parseIngestConfig, type HistoryLayout, type IngestConfig } from "../settings";
import { emptyIngestStats, type IngestStats } from "../types";
import { checkIngestRun, type SentDevice } from "./checker";
import { SimDevice } from "./devices";
import { ModelBroker, ModelOutputs, ModelStateStore, noFaults, simChannels, simStream, telemetryMessage, type FaultRates } from "./model";
import { SimScheduler, settle } from "./scheduler";

export interface IngestSimConfig {
  readonly devices: number;
  readonly seqsPerDevice: number;
  readonly corruptRate: number;
  readonly nodes: number;
  readonly pullMax: number;
  readonly historyLayout: HistoryLayout;
  readonly ackWaitMs: number;
  readonly chaosMs: number;
  /** Per loop step during chaos. */
  readonly crashRate: number;
  /** A device publishes one of its sent messages again (a duplicate at the broker). */
  readonly retransmitRate: number;
  readonly faults: FaultRates;
  /** During chaos: a publish PUBACKed and lost; a receipt lost. */
  readonly publishLossRate: number;
  readonly receiptLossRate: number;
  /** Per device send during chaos: the device wipes its flash (new epoch). */
  readonly wipeRate: number;
  /** Fraction of devices starting without epochs (upgraded 0 -> e mid-run). */
  readonly legacyRate: number;
  /** Inject one telemetry with seq 2^31 on a device's topic. */
  readonly poison: boolean;
  /** One device sends this many messages at once (0: none). */
  readonly floodMessages: number;
  readonly rateLimit: { readonly ratePerSec: number; readonly burst: number };
  readonly receiptTimeoutMs: number;
}

export interface IngestSimResult {
  readonly seed: number;
  readonly config: IngestSimConfig;
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly stats: Readonly<Record<string, number>>;
}

/** Loop steps at most; a run that does not settle by then is a liveness failure. */
export const simStepsMax = 200_000;
/** The poison seq of issue 16 (one message that blocked a device for good). */
export const poisonSeq = 2 ** 31;

export function ingestSimConfig(seed: number): IngestSimConfig {
  const r = new Prng(seed ^ 0x1a6e57);
  return {
    devices: r.range(1, 3),
    seqsPerDevice: r.range(3, 12),
    corruptRate: r.pick([0, 0.05, 0.15]),
    nodes: r.range(1, 3),
    pullMax: r.pick([1, 3, 8]),
    historyLayout: r.pick(["channel", "batch"] as const),
    ackWaitMs: r.pick([30, 80, 200]),
    chaosMs: r.range(200, 599),
    crashRate: r.pick([0, 0.002, 0.01]),
    retransmitRate: r.pick([0, 0.02, 0.1]),
    faults: r.pick([noFaults, { failBefore: 0.03, failAfter: 0.03 }, { failBefore: 0.1, failAfter: 0.1 }]),
    publishLossRate: r.pick([0, 0.05, 0.2]),
    receiptLossRate: r.pick([0, 0.1, 0.4]),
    wipeRate: r.pick([0, 0, 0.05]),
    legacyRate: r.pick([0, 0.5]),
    poison: r.pick([false, true]),
    floodMessages: r.pick([0, 0, 40]),
    rateLimit: r.pick([{ ratePerSec: 100_000, burst: 100_000 }, { ratePerSec: 200, burst: 8 }]),
    receiptTimeoutMs: r.pick([100, 300]),
  };
}

interface SimNode {
  readonly owner: string;
  readonly pipeline: IngestPipeline;
  inflight: number;
}

export async function runIngestSeed(seed: number, override: Partial<IngestSimConfig> = {}): Promise<IngestSimResult> {
  const cfg = { ...ingestSimConfig(seed), ...override };
  const random = seededRandom(seed);
  const sched = new SimScheduler(seededRandom(seed ^ 0x5c4ed));
  const store = new ModelStateStore();
  const broker = new ModelBroker(cfg.ackWaitMs);
  let chaos = true;
  const devices: SimDevice[] = [];
  for (let d = 0; d < cfg.devices; d++) devices.push(new SimDevice(`sim-dev-${d}`, random() < cfg.legacyRate, seededRandom(seed * 31 + d), cfg.receiptTimeoutMs));
  const byId = new Map(devices.map((d) => [d.deviceId, d]));
  const counters = { crashes: 0, retransmits: 0, batches: 0, publishesLost: 0, receiptsLost: 0, wipes: 0, upgrades: 0, poisoned: 0, flooded: 0 };
  const outputs = new ModelOutputs((deviceId, r) => {
    if (chaos && random() < cfg.receiptLossRate) { counters.receiptsLost++; return; }
    byId.get(deviceId)?.onReceipt(r);
  });
  const poison = new Map<string, Array<{ epoch: number; seq: number }>>();
  const remaining = devices.map(() => cfg.seqsPerDevice);
  /** Sent messages with the device and epoch (a wiped device cannot resend the bytes of an old epoch). */
  const sent: Array<{ subject: string; data: Uint8Array; dev: SimDevice; epoch: number }> = [];
  const ingest: IngestConfig = parseIngestConfig({
    batchMax: cfg.pullMax, prefetchMax: Math.max(8, cfg.pullMax), casAttemptsMax: 16, deviceConcurrencyMax: 4,
    history: true, historyLayout: cfg.historyLayout, out: true, outDurable: true, ackWaitMs: 1_000, dedupRangesMax: 64,
    // The model broker redelivers without limit, and its faults (lost replies, crashes) are all transient: no poison here.
    maxDeliver: 100,
  });
  const faults = (): FaultRates => (chaos ? cfg.faults : noFaults);
  const nodes: (SimNode | null)[] = [];
  const restartAtMs: number[] = [];
  let incarnations = 0;
  const nodeStats: IngestStats[] = [];
  const publish = (m: { subject: string; data: Uint8Array }): void => {
    if (chaos && random() < cfg.publishLossRate) { counters.publishesLost++; return; }
    broker.publish(m.subject, m.data, sched.nowMs);
  };

  const startNode = (i: number): SimNode => {
    const owner = `n${i}#${++incarnations}`;
    const stats = emptyIngestStats(owner);
    nodeStats.push(stats);
    const pipeline = new IngestPipeline({
      cfg: ingest, cache: new StateCache(1000), locks: new DeviceLocks(), stats, log: silentLogger,
      state: store.port(sched, owner, random, faults),
      out: outputs.port(sched, owner, random, faults, () => cfg.historyLayout),
      admission: admitAllDevices,
      rateLimit: new DeviceRateLimiter({ ...cfg.rateLimit, devicesMax: 16 }),
      hooks: { checkpoint: () => sched.defer(owner, () => undefined) },
      pause: (ms) => sched.defer(owner, () => undefined, ms),
    });
    return { owner, pipeline, inflight: 0 };
  };
  for (let i = 0; i < cfg.nodes; i++) nodes.push(startNode(i));
  const poisonAtMs = randomInt(random, cfg.chaosMs);
  const floodAtMs = randomInt(random, cfg.chaosMs);

  let problems: string[] = [];
  for (let loop = 0; ; loop++) {
    if (loop >= simStepsMax) {
      problems = [`liveness: not quiet after ${simStepsMax} steps (unacked ${broker.unacked}, operations pending ${sched.pending}, outboxes ${devices.map((d) => d.outboxDepth).join(",")})`];
      break;
    }
    if (chaos && sched.nowMs >= cfg.chaosMs) chaos = false;
    // Devices: new messages, flash wipes and upgrades during chaos, resends of overdue ones.
    for (let d = 0; d < devices.length; d++) {
      const dev = devices[d]!;
      if (remaining[d]! > 0 && (random() < 0.2 || !chaos)) {
        if (chaos && random() < cfg.wipeRate) { dev.wipe(); counters.wipes++; }
        if (dev.epoch === 0 && random() < 0.1 && dev.upgrade()) counters.upgrades++;
        remaining[d]!--;
        const m = dev.send(sched.nowMs, random() < cfg.corruptRate);
        sent.push({ ...m, dev, epoch: dev.epoch });
        publish(m);
      }
      for (const data of dev.due(sched.nowMs)) publish({ subject: deviceSubject(dev.deviceId, Uplink.Telemetry), data });
    }
    if (cfg.floodMessages > 0 && counters.flooded === 0 && sched.nowMs >= floodAtMs) {
      const dev = devices[0]!;
      for (let i = 0; i < cfg.floodMessages; i++) publish(dev.send(sched.nowMs, false));
      counters.flooded = cfg.floodMessages;
    }
    if (cfg.poison && counters.poisoned === 0 && sched.nowMs >= poisonAtMs) {
      const dev = devices[devices.length - 1]!;
      const m = telemetryMessage(dev.deviceId, poisonSeq, 2, false, dev.epoch, poisonSeq);
      poison.set(dev.deviceId, [{ epoch: dev.epoch, seq: poisonSeq }]);
      broker.publish(m.subject, m.data, sched.nowMs);
      counters.poisoned++;
    }
    if (chaos && sent.length > 0 && random() < cfg.retransmitRate) {
      const m = sent[randomInt(random, sent.length)]!;
      if (m.epoch === m.dev.epoch) broker.publish(m.subject, m.data, sched.nowMs);
      counters.retransmits++;
    }
    // Nodes: crash, restart, pull.
    let started = false;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (!n) {
        if (sched.nowMs >= restartAtMs[i]!) nodes[i] = startNode(i);
        continue;
      }
      if (chaos && random() < cfg.crashRate) {
        sched.drop(n.owner);
        nodes[i] = null;
        restartAtMs[i] = sched.nowMs + randomInt(random, 3 * cfg.ackWaitMs);
        counters.crashes++;
        continue;
      }
      if (n.inflight < 2 && random() < 0.3) {
        const batch = broker.pull(sched, n.owner, 1 + randomInt(random, cfg.pullMax));
        if (batch.length === 0) continue;
        n.inflight++;
        counters.batches++;
        started = true;
        void n.pipeline.processBatch(simStream, batch).then(() => { n.inflight--; });
      }
    }
    const ran = sched.runOne();
    // Continuations of what just ran (or started) queue the next operations.
    if (ran || started) await settle();
    const quiet = remaining.every((r) => r === 0) && devices.every((d) => d.outboxDepth === 0);
    if (!chaos && quiet && broker.unacked === 0 && sched.pending === 0 && nodes.every((n) => !n || n.inflight === 0)) break;
    // Time passes; when nothing can happen now, jump to the next thing that can.
    if (ran || chaos || !remaining.every((r) => r === 0)) sched.nowMs++;
    else sched.nowMs = Math.max(sched.nowMs + 1, Math.min(sched.nextAtMs() ?? Infinity, broker.nextDeliverableMs() ?? Infinity, sched.nowMs + 10, ...restartAtMs.filter((t, i) => !nodes[i] && t > sched.nowMs)));
  }
  for (const d of devices) counters.retransmits += d.retransmits;
  if (problems.length === 0) {
    const sentDevices: SentDevice[] = devices.map((d) => ({ deviceId: d.deviceId, ledgers: d.ledgers, badReceipts: d.badReceipts, poison: poison.get(d.deviceId) ?? [] }));
    problems = checkIngestRun({
      devices: sentDevices, stored: (id) => store.stored(id), outputs, historyRecordsPerSeq: cfg.historyLayout === "batch" ? 1 : simChannels.length,
      dedupRangesMax: ingest.dedupRangesMax,
    });
    if (cfg.poison && cfg.rateLimit.burst > 1000 && ![...outputs.deadLetters.values()].some((x) => x.seq === poisonSeq)) problems.push("the poison seq was not dead-lettered");
  }
  return {
    seed, config: cfg, ok: problems.length === 0, problems,
    stats: {
      ...counters, steps: sched.steps, simMs: sched.nowMs, acks: broker.acks, naks: broker.naks, casConflicts: store.casConflicts,
      republishesDropped: outputs.republishesDropped, deadLetters: outputs.deadLetters.size, receipts: outputs.receipts,
      ...Object.fromEntries((["rateLimited", "epochChanges", "settled", "retiredEpoch", "dedupOverflow", "duplicates"] as const).map((k) => [k, nodeStats.reduce((n, st) => n + st[k], 0)])),
    },
  };
}
