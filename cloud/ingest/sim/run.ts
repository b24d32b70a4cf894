// Seeded simulation of ingest's per-device pipeline (pipeline.ts, the code
// the product runs) on 1-3 nodes sharing one consumer, with faults: node
// crashes at any point of the order of effects (before or after publish,
// before or after the CAS, before the ack), lost requests and lost replies
// on the store and the publisher, redelivery after ack wait and naks,
// devices retransmitting and sending out of order, corrupt messages. One
// seed decides everything; a failure prints it, and the same seed replays
// the same run. The store is linearizable by construction (the nats-server
// 2.9 CAS race is not modelled), and nodes share one consumer: a superset
// of the product, where a partition has one owner at a time
// (partition-worker.ts) and a CAS conflict is a counted foreign write.
//
// Not modelled either: core-NATS out messages (outDurable off: lost in a
// crash by design), and retransmits older than the dedup window (such a
// seq is dead-lettered as stale, by design); the window here exceeds every
// seq a device sends.

import { Prng, randomInt, seededRandom, silentLogger, type RandomSource } from "../../base";
import { DeviceLocks, StateCache } from "../cache";
import { IngestPipeline } from "../pipeline";
import { parseIngestConfig, type HistoryLayout, type IngestConfig } from "../settings";
import { emptyIngestStats } from "../types";
import { checkIngestRun, type SentDevice } from "./checker";
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
  readonly retransmitRate: number;
  readonly faults: FaultRates;
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
  };
}

interface SimNode {
  readonly owner: string;
  readonly pipeline: IngestPipeline;
  inflight: number;
}

interface Outgoing {
  readonly deviceId: string;
  readonly subject: string;
  readonly data: Uint8Array;
}

/** Every message each device sends once, in an order shuffled within a small window (devices reorder). */
function plan(cfg: IngestSimConfig, random: RandomSource): { devices: SentDevice[]; sends: Outgoing[] } {
  const devices: SentDevice[] = [];
  const perDevice: Outgoing[][] = [];
  for (let d = 0; d < cfg.devices; d++) {
    const deviceId = `sim-dev-${d}`;
    const valid = new Map<number, number>();
    const corrupt = new Set<number>();
    const msgs: Outgoing[] = [];
    for (let seq = 1; seq <= cfg.seqsPerDevice; seq++) {
      const bad = random() < cfg.corruptRate;
      const points = 1 + randomInt(random, 4);
      if (bad) corrupt.add(seq);
      else valid.set(seq, points);
      msgs.push({ deviceId, ...telemetryMessage(deviceId, seq, points, bad) });
    }
    for (let i = 0; i + 1 < msgs.length; i++) {
      const j = Math.min(msgs.length - 1, i + randomInt(random, 3));
      [msgs[i], msgs[j]] = [msgs[j]!, msgs[i]!];
    }
    devices.push({ deviceId, valid, corrupt });
    perDevice.push(msgs);
  }
  // Interleave devices at random, keeping each device's own order.
  const sends: Outgoing[] = [];
  while (perDevice.some((q) => q.length > 0)) {
    const live = perDevice.filter((q) => q.length > 0);
    sends.push(live[randomInt(random, live.length)]!.shift()!);
  }
  return { devices, sends };
}

export async function runIngestSeed(seed: number, override: Partial<IngestSimConfig> = {}): Promise<IngestSimResult> {
  const cfg = { ...ingestSimConfig(seed), ...override };
  const random = seededRandom(seed);
  const sched = new SimScheduler(seededRandom(seed ^ 0x5c4ed));
  const store = new ModelStateStore();
  const outputs = new ModelOutputs();
  const broker = new ModelBroker(cfg.ackWaitMs);
  const { devices, sends } = plan(cfg, random);
  const sent: Outgoing[] = [];
  const ingest: IngestConfig = parseIngestConfig({
    seqWindow: 64, batchMax: cfg.pullMax, prefetchMax: Math.max(8, cfg.pullMax), casAttemptsMax: 16, deviceConcurrencyMax: 4,
    history: true, historyLayout: cfg.historyLayout, out: true, outDurable: true, ackWaitMs: 1_000,
    // The model broker redelivers without limit, and its faults (lost replies, crashes) are all transient: no poison here.
    maxDeliver: 100,
  });
  let chaos = true;
  const faults = (): FaultRates => (chaos ? cfg.faults : noFaults);
  const nodes: (SimNode | null)[] = [];
  const restartAtMs: number[] = [];
  let incarnations = 0;
  const counters = { crashes: 0, retransmits: 0, batches: 0 };

  const startNode = (i: number): SimNode => {
    const owner = `n${i}#${++incarnations}`;
    const pipeline = new IngestPipeline({
      cfg: ingest, cache: new StateCache(1000), locks: new DeviceLocks(), stats: emptyIngestStats(owner), log: silentLogger,
      state: store.port(sched, owner, random, faults),
      out: outputs.port(sched, owner, random, faults, () => cfg.historyLayout),
      hooks: { checkpoint: () => sched.defer(owner, () => undefined) },
      pause: (ms) => sched.defer(owner, () => undefined, ms),
    });
    return { owner, pipeline, inflight: 0 };
  };
  for (let i = 0; i < cfg.nodes; i++) nodes.push(startNode(i));

  let problems: string[] = [];
  for (let loop = 0; ; loop++) {
    if (loop >= simStepsMax) {
      problems = [`liveness: not quiet after ${simStepsMax} steps (unacked ${broker.unacked}, operations pending ${sched.pending}, unsent ${sends.length})`];
      break;
    }
    if (chaos && sched.nowMs >= cfg.chaosMs) chaos = false;
    // Devices: the next send, and during chaos a retransmit of something already sent.
    if (sends.length > 0 && (random() < 0.2 || !chaos)) {
      const m = sends.shift()!;
      broker.publish(m.subject, m.data, sched.nowMs);
      sent.push(m);
    }
    if (chaos && sent.length > 0 && random() < cfg.retransmitRate) {
      const m = sent[randomInt(random, sent.length)]!;
      broker.publish(m.subject, m.data, sched.nowMs);
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
    if (!chaos && sends.length === 0 && broker.unacked === 0 && sched.pending === 0 && nodes.every((n) => !n || n.inflight === 0)) break;
    // Time passes; when nothing can happen now, jump to the next thing that can.
    if (ran || chaos || sends.length > 0) sched.nowMs++;
    else sched.nowMs = Math.max(sched.nowMs + 1, Math.min(sched.nextAtMs() ?? Infinity, broker.nextDeliverableMs() ?? Infinity, ...restartAtMs.filter((t, i) => !nodes[i] && t > sched.nowMs)));
  }
  if (problems.length === 0) {
    problems = checkIngestRun({ devices, stored: (id) => store.stored(id), outputs, historyRecordsPerSeq: cfg.historyLayout === "batch" ? 1 : simChannels.length });
  }
  return {
    seed, config: cfg, ok: problems.length === 0, problems,
    stats: {
      ...counters, steps: sched.steps, simMs: sched.nowMs, acks: broker.acks, naks: broker.naks, casConflicts: store.casConflicts,
      republishesDropped: outputs.republishesDropped, deadLetters: outputs.deadLetters.size,
    },
  };
}
