// The ingest role on one cloud node: one pull loop per source over the shared
// durable consumers, batches grouped by device, one compare-and-set per
// device per batch, acks only after the effect is durable.
//
// Order of effects for a device batch (see docs/ingest.md, "exactly once"):
//   1. apply (pure) to the cached or loaded state;
//   2. publish history and out records with Nats-Msg-Id (JetStream drops a
//      republish within the duplicate window) and wait for their acks;
//   3. compare-and-set the state (conflict: reload, go to 1);
//   4. dead-letter rejected items, publish events (core NATS), ack.
// A crash anywhere before 4 leaves the messages unacked: they are
// redelivered, step 2 republishes the same ids (dropped), step 3 either
// finds them already recorded (duplicates) or records them now.
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { NatsPool } from "../nats";
import { DeviceStateStore, type LoadedState } from "../state";
import { applyBatch, mergeInterleaved, sweepPresence, type IngestItem } from "./apply";
import { DeviceLocks, forEachLimit, StateCache } from "./cache";
import { decodeDeviceMessage, type DlqReason } from "../records";
import { Publisher } from "./publisher";
import { durableName, ensureIngestConsumer, ensureIngestStreams, sourceStream } from "./streams";
import type { Logger } from "../base";
import { parseIngestConfig, type IngestConfig } from "./settings";
import { IngestSource, type IngestStats } from "./types";

export interface IngestDeps {
  nc: NatsConnection | NatsPool;
  nodeId: string;
  config: Partial<IngestConfig> | Record<string, unknown>;
  log: Logger;
  /** Clock for the presence sweep (tests inject one). */
  nowMs?: () => number;
  /** Fault injection for tests: crash points of the exactly-once protocol. */
  faults?: IngestFaults;
  /** Called once per telemetry batch whose effect was recorded (after the CAS). */
  onTelemetryApplied?(deviceId: string, seq: number, deviceTimeMs: number, points: number): void;
}

export interface IngestFaults {
  /** Called after outputs are published, before the CAS; throwing there is
   *  a crash between "published" and "recorded". */
  beforeCas?(deviceId: string): void;
  /** True: do not ack this message after its effect is recorded (a crash
   *  between "recorded" and "acked"); the server redelivers it. */
  skipAck?(subject: string, streamSeq: number): boolean;
}

export interface IngestRole {
  /** Stops pulling, finishes the batches in flight, naks what was fetched
   *  but not processed (so another node takes it at once), flushes acks. */
  stop(): Promise<void>;
  stats(): IngestStats;
}

/** Concurrent batches per source on one node (per-device order is kept by the device lock). */
const batchesInFlightMax = 4;
/** Pause before a pull loop that ended is started again. */
const loopRestartDelayMs = 500;
/** Lifetime of one pull request and the server heartbeat within it. */
const pullExpiresMs = 5_000;
const pullHeartbeatMs = 1_000;
/** Attempts of a device batch after errors (timeouts, leader changes) before it is naked. */
const transientRetriesMax = 3;
/** Backoff after a transient failure of a device batch, before it is naked for redelivery. */
const failureNakDelayMs = 1_000;

export async function startIngestRole(deps: IngestDeps): Promise<IngestRole> {
  const cfg = parseIngestConfig(deps.config);
  const conns = deps.nc instanceof NatsPool ? deps.nc.all() : [deps.nc];
  const nc = conns[0]!;
  const log = deps.log;
  const nowMs = deps.nowMs ?? Date.now;
  const jsm = await jetstreamManager(nc);
  if (cfg.ensureStreams) await ensureIngestStreams(jsm, { replicas: cfg.replicas });
  const sources = Object.values(IngestSource);
  for (const s of sources) if (cfg.ensureStreams) await ensureIngestConsumer(jsm, s, cfg);
  // One KV handle per connection: CAS requests spread over the pool.
  const stores = await Promise.all(conns.map((c) => DeviceStateStore.open(c)));
  const store = stores[0]!;
  let nextStore = 0;
  const pickStore = (): DeviceStateStore => stores[nextStore++ % stores.length]!;
  const pub = new Publisher(conns, deps.nodeId);
  const cache = new StateCache(cfg.deviceCacheMax);
  const locks = new DeviceLocks();
  const stats = newStats(deps.nodeId);
  let stopping = false;
  const iters = new Set<ConsumerMessages>();

  const deadLetter = async (m: JsMsg, reason: DlqReason, detail: string): Promise<void> => {
    await pub.deadLetter({ reason, detail, subject: m.subject, stream: m.info.stream, streamSeq: m.info.streamSequence, data: m.data });
    stats.deadLetters++;
    stats.deadLettersByReason[reason] = (stats.deadLettersByReason[reason] ?? 0) + 1;
  };

  const processDevice = async (deviceId: string, items: IngestItem[], msgs: JsMsg[]): Promise<void> => {
    let errors = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const loaded = cache.get(deviceId) ?? (await store.load(deviceId));
        const r = applyBatch(loaded.state, items, { seqWindow: cfg.seqWindow });
        if (r.changed) {
          const acks = [];
          for (const t of r.telemetry) acks.push(...pub.telemetry(t, cfg.history ? cfg.historyLayout : null, cfg.out && cfg.outDurable));
          await Promise.all(acks);
          deps.faults?.beforeCas?.(deviceId);
          const revision = await pickStore().compareAndSet(deviceId, r.state, loaded.revision);
          if (revision === null) {
            cache.delete(deviceId);
            stats.casRetries++;
            if (attempt >= cfg.casAttemptsMax) throw new Error(`${cfg.casAttemptsMax} CAS conflicts in a row`);
            continue;
          }
          const settled = await repairInterleaved(deviceId, { state: r.state, revision }, loaded.revision);
          cache.set(deviceId, settled);
          if (deps.onTelemetryApplied) for (const t of r.telemetry) deps.onTelemetryApplied(deviceId, t.seq, t.deviceTimeMs, t.telemetry.pointCount);
          if (cfg.history) stats.historyPublished += cfg.historyLayout === "batch" ? r.telemetry.length : r.telemetry.reduce((n, t) => n + t.telemetry.channels.length, 0);
          if (cfg.out) {
            if (!cfg.outDurable) for (const t of r.telemetry) pub.outCore(t);
            stats.outPublished += r.telemetry.length;
          }
        } else if (loaded.revision !== 0) {
          cache.set(deviceId, loaded);
        }
        for (const rej of r.rejections) await deadLetter(msgs[rej.index]!, rej.reason, rej.detail);
        for (const e of r.events) pub.event(e);
        stats.eventsPublished += r.events.length;
        stats.applied += r.applied;
        stats.points += r.points;
        stats.duplicates += r.duplicates;
        // Applied, duplicate or dead-lettered: all done with.
        for (const m of msgs) if (!deps.faults?.skipAck?.(m.subject, m.info.streamSequence)) m.ack();
        return;
      } catch (err) {
        cache.delete(deviceId);
        if (++errors < transientRetriesMax && !stopping) {
          await sleep(100 * errors);
          continue;
        }
        stats.batchFailures++;
        log.warn("ingest: device batch failed; left for redelivery", { deviceId, messages: msgs.length, error: err instanceof Error ? err.message : String(err) });
        for (const m of msgs) m.nak(failureNakDelayMs);
        return;
      }
    }
  };

  /** After a successful CAS: if another node's write slipped in between
   *  (nats-server 2.9 lets concurrent CAS both succeed), merge it back. */
  const repairInterleaved = async (deviceId: string, ours: LoadedState, expected: number): Promise<LoadedState> => {
    const iw = await store.interleavedWrite(deviceId, expected, ours.revision);
    if (!iw) return ours;
    stats.lostUpdatesRepaired++;
    let cur = ours;
    for (let attempt = 1; attempt <= cfg.casAttemptsMax; attempt++) {
      const m = mergeInterleaved(cur.state, iw.other, iw.base, cfg.seqWindow);
      if (m.overlap > 0 || !iw.base) log.warn("ingest: repaired a concurrent device-state write; totals estimated", { deviceId, overlap: m.overlap });
      const rev = await store.compareAndSet(deviceId, m.state, cur.revision);
      if (rev !== null) return { state: m.state, revision: rev };
      stats.casRetries++;
      cur = await store.load(deviceId);
    }
    throw new Error(`could not write the repaired state of ${deviceId}`);
  };

  const processBatch = async (source: IngestSource, batch: JsMsg[]): Promise<void> => {
    const byDevice = new Map<string, { items: IngestItem[]; msgs: JsMsg[] }>();
    const bad: Promise<void>[] = [];
    for (const m of batch) {
      stats.messages++;
      if (m.info.redelivered) stats.redeliveries++;
      stats.consumerLag[source] = m.info.pending;
      const d = decodeDeviceMessage(m.subject, m.data, cfg);
      if (!d.ok) {
        bad.push(deadLetter(m, d.reason, d.detail).then(() => m.ack(), (err: unknown) => {
          log.warn("ingest: dead-letter publish failed; left for redelivery", { error: String(err) });
          m.nak(failureNakDelayMs);
        }));
        continue;
      }
      let g = byDevice.get(d.deviceId);
      if (!g) byDevice.set(d.deviceId, (g = { items: [], msgs: [] }));
      g.items.push({ msg: d, streamSeq: m.info.streamSequence, timeMs: Math.floor(m.info.timestampNanos / 1e6) });
      g.msgs.push(m);
    }
    await forEachLimit([...byDevice], cfg.deviceConcurrencyMax, ([id, g]) => locks.run(id, () => processDevice(id, g.items, g.msgs)));
    await Promise.all(bad);
  };

  const runSource = async (source: IngestSource, conn: NatsConnection): Promise<void> => {
    const js = jetstream(conn);
    const consumer = await js.consumers.get(sourceStream[source], durableName(source));
    // Short pulls with heartbeats: when the consumer's leader moves (a server
    // stops), a pull parked on the old leader is noticed in ~2 heartbeats
    // instead of after the default 30 s expiry.
    // The client library buffers up to max_messages out of our sight (no
    // keep-alive possible there), so it pulls one batch at a time; what this
    // node holds beyond that is bounded by prefetchMax below.
    const iter = await consumer.consume({ max_messages: cfg.batchMax, expires: pullExpiresMs, idle_heartbeat: pullHeartbeatMs });
    iters.add(iter);
    const queue: JsMsg[] = [];
    let inFlight = 0;
    let wake: (() => void) | null = null;
    // Messages held by this node (queued or in a batch) and when they came:
    // the keep-alive below tells the server we are still working on them, so
    // a slow batch is not redelivered to another node while it runs.
    const held = new Map<JsMsg, number>();
    const keepAlive = setInterval(() => {
      const oldMs = Date.now() - cfg.ackWaitMs / 3;
      for (const [m, at] of held) if (at < oldMs) m.working();
    }, Math.max(250, Math.floor(cfg.ackWaitMs / 3)));
    const pump = (): void => {
      while (queue.length > 0 && inFlight < batchesInFlightMax) {
        const batch = queue.splice(0, cfg.batchMax);
        inFlight++;
        void processBatch(source, batch)
          .catch((err: unknown) => log.error("ingest: batch crashed", { source, error: String(err) }))
          .finally(() => {
            for (const m of batch) held.delete(m);
            inFlight--;
            pump();
            if (wake) { const w = wake; wake = null; w(); }
          });
      }
    };
    try {
      for await (const m of iter) {
        if (stopping) { m.nak(); continue; }
        held.set(m, Date.now());
        queue.push(m);
        pump();
        // Backpressure: this node holds (queued + in batches) at most prefetchMax.
        while (held.size >= cfg.prefetchMax && !stopping) await new Promise<void>((r) => (wake = r));
      }
    } finally {
      // Stopped (or the pull failed): what is queued was never processed; hand it back now.
      for (const m of queue.splice(0)) { m.nak(); held.delete(m); }
      while (inFlight > 0) await new Promise<void>((r) => (wake = r));
      clearInterval(keepAlive);
      iters.delete(iter);
    }
  };

  // A pull loop that ends while the role runs (consumer recreated, stream
  // leader lost for longer than the client waits) is started again.
  const runForever = async (source: IngestSource, conn: NatsConnection): Promise<void> => {
    while (!stopping) {
      try {
        await runSource(source, conn);
        if (!stopping) log.warn("ingest: consumer loop ended; restarting", { source });
      } catch (err) {
        if (!stopping) log.error("ingest: consumer loop failed; restarting", { source, error: String(err) });
      }
      if (!stopping) await sleep(loopRestartDelayMs);
    }
  };
  const loops = sources.map((s, i) => runForever(s, conns[i % conns.length]!));

  // Presence sweep: heartbeat timeouts of cached devices, and every
  // fullSweepEvery sweeps of every device in the bucket.
  let sweeps = 0;
  let sweeping = false;
  const sweep = async (): Promise<void> => {
    if (sweeping || stopping) return;
    sweeping = true;
    try {
      const ids = ++sweeps % cfg.fullSweepEvery === 0 ? await store.listDeviceIds() : cache.keys();
      for (const id of ids) {
        if (stopping) break;
        await locks.run(id, async () => {
          const loaded = cache.get(id) ?? (await store.load(id));
          if (loaded.revision === 0) return;
          const r = sweepPresence(loaded.state, nowMs(), cfg);
          if (!r) return;
          const revision = await store.compareAndSet(id, r.state, loaded.revision);
          if (revision === null) { cache.delete(id); stats.casRetries++; return; }
          cache.set(id, { state: r.state, revision });
          pub.event(r.event);
          stats.eventsPublished++;
        });
      }
    } catch (err) {
      log.warn("ingest: presence sweep failed", { error: String(err) });
    } finally {
      sweeping = false;
    }
  };
  const sweepTimer = setInterval(() => void sweep(), cfg.sweepIntervalMs);

  log.info("ingest role started", { nodeId: deps.nodeId, sources, replicas: cfg.replicas });
  return {
    stats: () => ({ ...stats, deadLettersByReason: { ...stats.deadLettersByReason }, consumerLag: { ...stats.consumerLag }, cachedDevices: cache.size }),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(sweepTimer);
      for (const it of iters) it.stop();
      await Promise.all(loops);
      while (sweeping) await sleep(10);
      await Promise.all(conns.map((c) => (c.isClosed() ? undefined : c.flush())));
      log.info("ingest role stopped", { nodeId: deps.nodeId });
    },
  };
}

function newStats(nodeId: string): IngestStats {
  return {
    nodeId, messages: 0, applied: 0, points: 0, duplicates: 0, deadLetters: 0, deadLettersByReason: {}, casRetries: 0,
    batchFailures: 0, lostUpdatesRepaired: 0, redeliveries: 0, historyPublished: 0, outPublished: 0, eventsPublished: 0,
    consumerLag: { tele: 0, hb: 0, presence: 0, ctr: 0 }, cachedDevices: 0,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
