// Edge scheduling as singleton work (singletons.ts): the orchestration node
// holding the `singleton/edge-scheduler` lease places the tier's edge jobs
// (shared/edge-jobs.ts) on gateway and processing devices with
// placeEdgeJobs (edge-placement.ts), from the device state ingest keeps
// (presence, Hello capabilities and resources, heartbeat heap/CPU/RSSI, via).
//
// Where an assignment lives: in the owner's desired configuration on the
// control plane (the registry), as the setting "job.<id>" — which is also how
// the job reaches the device (the config pusher's cfg downlink, re-sent on
// every Hello). One owner per job: a move first removes the job from the old
// owner's config, then adds it to the new one's, so the stored state never
// names two owners (for one tick it may name none).
//
// Fencing: every write is a fenced compare-and-set (cloud/lock/fence.ts) on
// the desired config. The config keeps the highest scheduler token that wrote
// it (setting "edge.fence"); a write carries the version it read and is
// judged by judgeFencedWrite (token >= stored token, version unchanged) and
// applied with the registry's compare-and-set on that version, after the lock
// service confirmed the token is live (checkFence). A scheduler paused past
// its lease can neither overwrite a newer holder's assignment nor write
// after the lease moved on.
//
// Move bound after a device fails: the device state shows it offline when
// the broker publishes its will (at most 1.5 × its MQTT keepalive after it
// goes silent; at once for a closed socket) or, failing that, after ingest's
// heartbeat timeout; the scheduler sees that through its watch of the state
// bucket and re-plans within `tickMs`; the move is two control-plane writes
// and a cfg publish. So: job moved ≤ detection + tickMs + 2 writes
// (measured in test/edge/edge-jobs.nats.test.ts and bench/edge.ts).
//
// The scheduler also answers the edge.jobs API (EdgeApiSubject.Jobs) while it
// holds the lease: jobs, owners, moves and the devices it considered.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { DevicePresence } from "../../shared/device-presence";
import { DeviceRole, deviceRoleFromWire } from "../../shared/device-role";
import {
  EdgeJobKind, edgeFenceSettingKey, encodeJob, jobSettingPrefix, jobsPerDeviceMax, parseJob, type EdgeJob,
} from "../../shared/edge-jobs";
import { FencedOutcome, judgeFencedWrite, type FenceCheck } from "../lock";
import { DeviceLifecycle, RegistryError, type DeviceRecord, type DeviceRegistry } from "../registry";
import type { DeviceState } from "../state";
import { EdgeApiSubject } from "../subjects";
import {
  DEFAULT_EDGE_PLACEMENT_LIMITS, isEdgeAssignment, placeEdgeJobs, type EdgeDemand, type EdgeJobSpec, type EdgeNode, type EdgePlacementLimits,
} from "./edge-placement";
import { loopHandle, sleepUnlessAborted, type SingletonWork } from "./singletons";

export const EDGE_SCHEDULER_LEASE = "singleton/edge-scheduler";
/** Edge jobs one deployment defines at most. */
export const edgeJobsMax = 64;
/** Gateway/processing devices the scheduler considers at most (more are ignored, counted). */
export const edgeNodesMax = 1024;
/** Compare-and-set attempts of one fenced config write losing version races. */
export const edgeWriteAttemptsMax = 16;
/** How often the scheduler re-reads its owners' configs from the control plane (an operator's config.set may have dropped a job). */
export const edgeReconcileEveryTicks = 15;

/** What a job costs a device, by kind (the firmware's measured worst cases, rounded up). */
export const EDGE_JOB_DEMAND: Readonly<Record<EdgeJobKind, EdgeDemand>> = Object.freeze({
  aggregate: Object.freeze({ heapBytes: 8 * 1024, flashBytes: 0, cpuCentiPct: 500 }),
  rules: Object.freeze({ heapBytes: 4 * 1024, flashBytes: 0, cpuCentiPct: 300 }),
  relay: Object.freeze({ heapBytes: 12 * 1024, flashBytes: 0, cpuCentiPct: 800 }),
});

/** A job as the deployment defines it (orchestration.edge.jobs). */
export interface EdgeJobDef {
  readonly job: EdgeJob;
  /** Devices whose data it works on (placement affinity). */
  readonly sources: readonly string[];
}

/** Parses one definition `{ id, spec, sources? }`; throws with the reason. */
export function edgeJobDef(raw: { id: string; spec: string; sources?: readonly string[] }): EdgeJobDef {
  const job = parseJob(raw.id, raw.spec);
  if (typeof job === "string") throw new Error(job);
  return Object.freeze({ job, sources: Object.freeze([...(raw.sources ?? [])]) });
}

/** The gateway/processing devices in the device state, as placement sees them. */
export function edgeNodesOf(states: Iterable<DeviceState>, nodesMax = edgeNodesMax): { nodes: EdgeNode[]; ignored: number } {
  const all = [...states];
  const children = new Map<string, string[]>();
  for (const s of all) {
    if (s.via === "" || s.presence.state !== DevicePresence.Online) continue;
    const list = children.get(s.via) ?? [];
    list.push(s.deviceId);
    children.set(s.via, list);
  }
  const nodes: EdgeNode[] = [];
  let ignored = 0;
  for (const s of all) {
    const h = s.hello;
    const role = h ? deviceRoleFromWire(h.role) : undefined;
    if (role !== DeviceRole.Gateway && role !== DeviceRole.Processing) continue;
    if (nodes.length >= nodesMax) { ignored++; continue; }
    const hb = s.heartbeat;
    nodes.push({
      deviceId: s.deviceId,
      online: s.presence.state === DevicePresence.Online,
      capabilities: h!.capabilities,
      freeHeapBytes: hb?.freeHeapBytes ?? h!.resources?.freeHeapBytes ?? 0,
      flashFreeBytes: h!.resources?.flashFreeBytes ?? 0,
      cpuLoadCentiPct: hb?.cpuLoadCentiPct ?? h!.resources?.cpuLoadCentiPct ?? 0,
      // No heartbeat yet: the link is unknown; count it as just good enough rather than refusing a fresh device.
      rssiDbm: hb?.rssiDbm ?? DEFAULT_EDGE_PLACEMENT_LIMITS.rssiMinDbm,
      children: (children.get(s.deviceId) ?? []).sort(),
    });
  }
  return { nodes, ignored };
}

/** One job in the edge.jobs reply. */
export interface EdgeJobView {
  id: string;
  kind: EdgeJobKind;
  spec: string;
  sources: string[];
  /** The device that runs it (null: unplaced). */
  owner: string | null;
  score: number | null;
  /** Wall time the current owner got it (ms), or when it became unplaced. */
  sinceMs: number;
  /** Owner changes since this scheduler took over. */
  moves: number;
  /** Why it is unplaced ("" when placed). */
  reason: string;
}

/** One device in the edge.jobs reply. */
export interface EdgeDeviceView {
  deviceId: string;
  online: boolean;
  capabilities: string[];
  freeHeapBytes: number;
  flashFreeBytes: number;
  cpuLoadCentiPct: number;
  rssiDbm: number;
  children: string[];
  jobs: string[];
}

/** The reply of EdgeApiSubject.Jobs (docs/edge.md, "The edge.jobs API"). */
export interface EdgeJobsReply {
  scheduler: { nodeId: string; token: number; tickMs: number; sinceMs: number };
  atMs: number;
  placed: number;
  unplaced: number;
  jobs: EdgeJobView[];
  devices: EdgeDeviceView[];
  stats: EdgeSchedulerStats;
}

export interface EdgeSchedulerStats {
  ticks: number;
  writes: number;
  versionConflicts: number;
  /** Writes refused because a newer scheduler token wrote, or the lock service no longer knew ours. */
  staleToken: number;
  writeErrors: number;
  moves: number;
  /** Devices beyond edgeNodesMax left out. */
  ignoredDevices: number;
}

export interface EdgeSchedulerOptions {
  nc: NatsConnection;
  nodeId: string;
  registry: DeviceRegistry;
  /** Current device states (a DeviceStateMirror's devices()). */
  devices: () => Iterable<DeviceState>;
  /** Resolves once `devices` holds the whole bucket (DeviceStateMirror.ready): learning owners from a partial view could place a job twice. */
  ready?: () => Promise<boolean>;
  jobs: readonly EdgeJobDef[];
  /** The lock service holding EDGE_SCHEDULER_LEASE. */
  fence: FenceCheck;
  /** Sends a device its desired config (DesiredConfigPusher.push). */
  push: (rec: DeviceRecord) => void;
  tickMs?: number;
  limits?: EdgePlacementLimits;
  /** Every owner change, for logs and tests. */
  onMove?: (m: { jobId: string; from: string | null; to: string | null; atMs: number }) => void;
  log?: (msg: string) => void;
}

/** gone: the device is not registered (nothing to write); failed: the write did not happen (retried next tick). */
type WriteOutcome = "ok" | "stale" | "gone" | "failed";

interface Owned { owner: string | null; score: number | null; sinceMs: number; moves: number; reason: string }

export class EdgeScheduler {
  readonly #o: EdgeSchedulerOptions;
  readonly #tickMs: number;
  readonly #specs: EdgeJobSpec[];
  readonly #defs: Map<string, EdgeJobDef>;
  /** Job id → its owner as stored on the control plane (what this holder learned and wrote). */
  readonly #owned = new Map<string, Owned>();
  #token = 0;
  #sinceMs = 0;
  #lastNodes: EdgeNode[] = [];
  readonly stats: EdgeSchedulerStats = { ticks: 0, writes: 0, versionConflicts: 0, staleToken: 0, writeErrors: 0, moves: 0, ignoredDevices: 0 };

  constructor(opts: EdgeSchedulerOptions) {
    if (opts.jobs.length > edgeJobsMax) throw new Error(`${opts.jobs.length} edge jobs exceed edgeJobsMax ${edgeJobsMax}`);
    this.#o = opts;
    this.#tickMs = opts.tickMs ?? 1_000;
    this.#defs = new Map();
    for (const d of opts.jobs) {
      if (this.#defs.has(d.job.id)) throw new Error(`edge job ${d.job.id} defined twice`);
      this.#defs.set(d.job.id, d);
    }
    this.#specs = opts.jobs.map((d) => ({ id: d.job.id, kind: d.job.kind, demand: EDGE_JOB_DEMAND[d.job.kind], sources: d.sources }));
  }

  asSingletonWork(): SingletonWork {
    return {
      lease: EDGE_SCHEDULER_LEASE,
      start: async (token) => {
        this.#token = token;
        this.#sinceMs = Date.now();
        this.#owned.clear();
        const sub = this.#serveApi();
        const handle = loopHandle(async (signal) => {
          try {
            while (this.#o.ready !== undefined && !(await this.#o.ready()) && !signal.aborted) this.#o.log?.("edge scheduler: device state not loaded yet; waiting");
            if (signal.aborted) return;
            await this.#learn();
            let n = 0;
            while (!signal.aborted) {
              if (!(await this.tick())) return; // stale: the lease moved on; the host stops us
              if (++n % edgeReconcileEveryTicks === 0) await this.#learn();
              if (!(await sleepUnlessAborted(this.#tickMs, signal))) return;
            }
          } finally {
            sub.unsubscribe();
          }
        });
        return handle;
      },
    };
  }

  /** One planning round; false when this scheduler's token turned out stale. */
  async tick(): Promise<boolean> {
    this.stats.ticks++;
    const { nodes, ignored } = edgeNodesOf(this.#o.devices());
    this.stats.ignoredDevices = ignored;
    this.#lastNodes = nodes;
    const current = new Map<string, string>();
    for (const [id, o] of this.#owned) if (o.owner !== null) current.set(id, o.owner);
    const plan = placeEdgeJobs(this.#specs, nodes, current, this.#o.limits);
    for (const d of plan.decisions) {
      const o = this.#owned.get(d.jobId);
      if (o && !isEdgeAssignment(d)) o.reason = d.reason;
      if (o && isEdgeAssignment(d)) o.score = d.score;
    }
    for (const d of plan.changes) {
      const to = isEdgeAssignment(d) ? d.deviceId : null;
      const from = d.previous;
      const def = this.#defs.get(d.jobId)!;
      if (from !== null) {
        const r = await this.#write(from, (s) => { delete s[jobSettingPrefix + d.jobId]; });
        if (r === "stale") return false;
        if (r === "failed") continue; // never add before the old owner lost it: one owner per job
      }
      const atMs = Date.now();
      const prior = this.#owned.get(d.jobId);
      this.#owned.set(d.jobId, { owner: null, score: null, sinceMs: atMs, moves: prior?.moves ?? 0, reason: isEdgeAssignment(d) ? "" : d.reason });
      if (to !== null) {
        const r = await this.#write(to, (s) => { s[jobSettingPrefix + d.jobId] = encodeJob(def.job); });
        if (r === "stale") return false;
        if (r === "ok") {
          const moves = (prior?.moves ?? 0) + (from !== null ? 1 : 0);
          this.#owned.set(d.jobId, { owner: to, score: isEdgeAssignment(d) ? d.score : null, sinceMs: Date.now(), moves, reason: "" });
          if (from !== null) this.stats.moves++;
        }
      }
      const now = this.#owned.get(d.jobId)!;
      if (now.owner !== from) {
        this.#o.log?.(`edge job ${d.jobId}: ${from ?? "unplaced"} -> ${now.owner ?? `unplaced (${now.reason || "write failed"})`}`);
        this.#o.onMove?.({ jobId: d.jobId, from, to: now.owner, atMs: Date.now() });
      }
    }
    return true;
  }

  /** The edge.jobs reply. */
  view(): EdgeJobsReply {
    const jobs: EdgeJobView[] = [...this.#defs.values()].map((d) => {
      const o = this.#owned.get(d.job.id);
      return {
        id: d.job.id, kind: d.job.kind, spec: encodeJob(d.job), sources: [...d.sources], owner: o?.owner ?? null, score: o?.score ?? null,
        sinceMs: o?.sinceMs ?? this.#sinceMs, moves: o?.moves ?? 0, reason: o ? o.reason : "not planned yet",
      };
    }).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const byOwner = new Map<string, string[]>();
    for (const j of jobs) if (j.owner !== null) byOwner.set(j.owner, [...(byOwner.get(j.owner) ?? []), j.id]);
    const devices: EdgeDeviceView[] = this.#lastNodes.map((n) => ({
      deviceId: n.deviceId, online: n.online, capabilities: [...n.capabilities], freeHeapBytes: n.freeHeapBytes, flashFreeBytes: n.flashFreeBytes,
      cpuLoadCentiPct: n.cpuLoadCentiPct, rssiDbm: n.rssiDbm, children: [...n.children], jobs: byOwner.get(n.deviceId) ?? [],
    }));
    const placed = jobs.filter((j) => j.owner !== null).length;
    return {
      scheduler: { nodeId: this.#o.nodeId, token: this.#token, tickMs: this.#tickMs, sinceMs: this.#sinceMs },
      atMs: Date.now(), placed, unplaced: jobs.length - placed, jobs, devices, stats: { ...this.stats },
    };
  }

  #serveApi(): Subscription {
    const enc = new TextEncoder();
    return this.#o.nc.subscribe(EdgeApiSubject.Jobs, {
      callback: (err, msg) => {
        if (err) return;
        msg.respond(enc.encode(JSON.stringify(this.view())));
      },
    });
  }

  /**
   * Learns the stored owners from the control plane: the desired configs of
   * the edge devices in the device state. A job found on several devices
   * (a crash between the two writes of a move under an older scheduler)
   * keeps the first in id order; the others lose it at the next move.
   */
  async #learn(): Promise<void> {
    const { nodes } = edgeNodesOf(this.#o.devices());
    const seen = new Set<string>();
    for (const n of nodes.sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))) {
      let rec: DeviceRecord | null;
      try {
        rec = await this.#o.registry.get(n.deviceId);
      } catch (e) {
        this.stats.writeErrors++;
        this.#o.log?.(`edge scheduler: reading ${n.deviceId}: ${String(e)}`);
        continue;
      }
      const settings = rec?.desiredConfig?.settings ?? {};
      const stray: string[] = [];
      for (const key of Object.keys(settings)) {
        if (!key.startsWith(jobSettingPrefix)) continue;
        const id = key.slice(jobSettingPrefix.length);
        if (!this.#defs.has(id) || seen.has(id)) { stray.push(key); continue; }
        seen.add(id);
        const prior = this.#owned.get(id);
        if (prior?.owner !== n.deviceId) this.#owned.set(id, { owner: n.deviceId, score: null, sinceMs: prior?.sinceMs ?? Date.now(), moves: prior?.moves ?? 0, reason: "" });
      }
      if (stray.length > 0) await this.#write(n.deviceId, (s) => { for (const k of stray) delete s[k]; });
    }
    // A job the scheduler thought placed but no config carries (an operator replaced the config): place it again.
    for (const [id, o] of this.#owned) if (o.owner !== null && !seen.has(id)) o.owner = null;
  }

  /** Fenced compare-and-set of one device's job settings (see the header). */
  async #write(deviceId: string, change: (settings: Record<string, string>) => void): Promise<WriteOutcome> {
    const token = this.#token;
    for (let attempt = 0; attempt < edgeWriteAttemptsMax; attempt++) {
      try {
        if (!(await this.#o.fence.checkFence(EDGE_SCHEDULER_LEASE, token))) return this.#stale(deviceId, "the lock service no longer knows our token");
        const rec = await this.#o.registry.get(deviceId);
        if (!rec || rec.lifecycle !== DeviceLifecycle.Registered) return "gone";
        const cfg = rec.desiredConfig;
        const settings: Record<string, string> = { ...(cfg?.settings ?? {}) };
        const stored = Number(settings[edgeFenceSettingKey] ?? 0);
        const version = cfg?.version ?? 0;
        const verdict = judgeFencedWrite({ token: Number.isSafeInteger(stored) ? stored : 0, version }, token, version);
        if (verdict === FencedOutcome.StaleToken) return this.#stale(deviceId, `config carries token ${stored} > ours`);
        const before = JSON.stringify(settings);
        change(settings);
        if (JSON.stringify(settings) === before) return "ok";
        let jobs = 0;
        for (const k of Object.keys(settings)) if (k.startsWith(jobSettingPrefix)) jobs++;
        if (jobs > jobsPerDeviceMax) throw new RegistryError("invalid", `${deviceId} would run ${jobs} jobs (max ${jobsPerDeviceMax})`);
        settings[edgeFenceSettingKey] = String(token);
        const next = await this.#o.registry.setDesiredConfig(deviceId, {
          heartbeatIntervalMs: cfg?.heartbeatIntervalMs ?? 0, sampleIntervalMs: cfg?.sampleIntervalMs ?? 0, batchPointsMax: cfg?.batchPointsMax ?? 0, settings,
        }, { expectedVersion: version });
        this.stats.writes++;
        this.#o.push(next);
        return "ok";
      } catch (e) {
        if (e instanceof RegistryError && e.code === "conflict") { this.stats.versionConflicts++; continue; }
        this.stats.writeErrors++;
        this.#o.log?.(`edge scheduler: writing ${deviceId}: ${String(e)}`);
        return "failed";
      }
    }
    this.stats.writeErrors++;
    return "failed";
  }

  #stale(deviceId: string, why: string): WriteOutcome {
    this.stats.staleToken++;
    this.#o.log?.(`edge scheduler: write to ${deviceId} refused as stale (${why}); stopping`);
    return "stale";
  }
}
