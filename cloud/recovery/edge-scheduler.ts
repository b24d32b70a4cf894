// Edge scheduling as singleton work (singletons.ts): the orchestration node
// holding the `singleton/edge-scheduler` lease places the tier's edge jobs
// (shared/edge-jobs.ts) on gateway and processing devices with
// placeEdgeJobs (edge-placement.ts), from the device state ingest keeps
// (presence, Hello capabilities and resources, heartbeat heap/CPU/RSSI, via).
//
// Where an assignment lives: in the owner's desired shadow (its
// configuration, docs/shadow.md "Configuration"), as the field "job.<id>"
// (value: encodeJob) — which is also how the job reaches the device (the
// ShadowDeltaPusher's cfg downlink on the shadow event, re-sent on every
// Hello). Removal deletes the field (the delta carries the deletion; the
// device stops the job). One owner per job: a move first removes the job
// from the old owner, then adds it to the new one, so the stored state never
// names two owners (for one tick it may name none).
//
// Fencing: every scheduler instance writes with ONE shadow writer id
// (`edge`), so their writes serialize on the key `<device>.desired.edge`
// through the store's per-key compare-and-set. The field "edge.fence" holds
// the highest scheduler token that wrote the document; a write first asks
// the lock service whether our token is live (checkFence), then the store
// runs our guard INSIDE its CAS loop (again on every retry) on the joined
// document: a stored fence above our token refuses the write
// (judgeFencedWrite). Jobs and "edge.fence" change in one write. A
// scheduler paused past its lease can neither overwrite a newer holder's
// assignment nor write after the lease moved on.
//
// Move bound after a device fails: the device state shows it offline when
// the broker publishes its will (at most 1.5 × its MQTT keepalive after it
// goes silent; at once for a closed socket) or, failing that, after ingest's
// heartbeat timeout; the scheduler sees that through its watch of the state
// bucket and re-plans within `tickMs`; the move is two shadow writes and a
// cfg publish. So: job moved ≤ detection + tickMs + 2 writes
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
import { DeviceLifecycle, type DeviceRegistry } from "../registry";
import { ShadowDoc, ShadowError, ShadowErrorCode, type ShadowChange, type ShadowFields, type ShadowStore } from "../shadow";
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
/** How often the scheduler re-reads its owners' desired shadows (an operator's config.set may have dropped a job). */
export const edgeReconcileEveryTicks = 15;
/** The shadow writer id of every scheduler instance: their writes serialize on one key per device. */
export const edgeShadowWriter = "edge";

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
  /** Writes the store gave up on after its compare-and-set retries (ShadowError contended). */
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
  /** Lifecycle of the owners (a job goes to registered, active devices only). */
  registry: DeviceRegistry;
  /** Where assignments live: the owners' desired shadows. */
  shadow: ShadowStore;
  /** Current device states (a DeviceStateMirror's devices()). */
  devices: () => Iterable<DeviceState>;
  /** Resolves once `devices` holds the whole bucket (DeviceStateMirror.ready): learning owners from a partial view could place a job twice. */
  ready?: () => Promise<boolean>;
  jobs: readonly EdgeJobDef[];
  /** The lock service holding EDGE_SCHEDULER_LEASE. */
  fence: FenceCheck;
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
  /** Job id → its owner as stored in the desired shadows (what this holder learned and wrote). */
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
        const r = await this.#write(from, [{ field: jobSettingPrefix + d.jobId, deleted: true }]);
        if (r === "stale") return false;
        if (r === "failed") continue; // never add before the old owner lost it: one owner per job
      }
      const atMs = Date.now();
      const prior = this.#owned.get(d.jobId);
      this.#owned.set(d.jobId, { owner: null, score: null, sinceMs: atMs, moves: prior?.moves ?? 0, reason: isEdgeAssignment(d) ? "" : d.reason });
      if (to !== null) {
        const r = await this.#write(to, [{ field: jobSettingPrefix + d.jobId, value: encodeJob(def.job) }]);
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
   * Learns the stored owners from the desired shadows of the edge devices in
   * the device state. A job found on several devices (a crash between the
   * two writes of a move under an older scheduler) keeps the first in id
   * order; the others lose it at the next move.
   */
  async #learn(): Promise<void> {
    const { nodes } = edgeNodesOf(this.#o.devices());
    const seen = new Set<string>();
    for (const n of nodes.sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))) {
      let fields: ShadowFields;
      try {
        fields = await this.#o.shadow.fields(n.deviceId, ShadowDoc.Desired);
      } catch (e) {
        this.stats.writeErrors++;
        this.#o.log?.(`edge scheduler: reading ${n.deviceId}: ${String(e)}`);
        continue;
      }
      const stray: string[] = [];
      for (const key of jobFields(fields)) {
        const id = key.slice(jobSettingPrefix.length);
        if (!this.#defs.has(id) || seen.has(id)) { stray.push(key); continue; }
        seen.add(id);
        const prior = this.#owned.get(id);
        if (prior?.owner !== n.deviceId) this.#owned.set(id, { owner: n.deviceId, score: null, sinceMs: prior?.sinceMs ?? Date.now(), moves: prior?.moves ?? 0, reason: "" });
      }
      if (stray.length > 0) await this.#write(n.deviceId, stray.map((field) => ({ field, deleted: true as const })));
    }
    // A job the scheduler thought placed but no desired shadow carries (an operator deleted it): place it again.
    for (const [id, o] of this.#owned) if (o.owner !== null && !seen.has(id)) o.owner = null;
  }

  /** Fenced write of job fields into one device's desired shadow (see the header), with "edge.fence" in the same write. */
  async #write(deviceId: string, changes: ShadowChange[]): Promise<WriteOutcome> {
    const token = this.#token;
    try {
      if (!(await this.#o.fence.checkFence(EDGE_SCHEDULER_LEASE, token))) return this.#stale(deviceId, "the lock service no longer knows our token");
      const rec = await this.#o.registry.get(deviceId);
      if (!rec || rec.lifecycle !== DeviceLifecycle.Registered) return "gone";
      const current = await this.#o.shadow.fields(deviceId, ShadowDoc.Desired);
      if (changes.every((c) => unchanged(current, c))) return "ok";
      const guard = (fields: ShadowFields): void => {
        // Runs inside the store's compare-and-set loop, on the joined document it is about to replace.
        const stored = fenceOf(fields);
        if (judgeFencedWrite({ token: stored, version: 0 }, token, 0) === FencedOutcome.StaleToken) throw new StaleFence(stored);
        const jobs = new Set(jobFields(fields));
        for (const c of changes) if ("deleted" in c) jobs.delete(c.field); else jobs.add(c.field);
        if (jobs.size > jobsPerDeviceMax) throw new ShadowError(ShadowErrorCode.Invalid, `${deviceId} would run ${jobs.size} jobs (max ${jobsPerDeviceMax})`);
      };
      await this.#o.shadow.write(deviceId, ShadowDoc.Desired, edgeShadowWriter, [...changes, { field: edgeFenceSettingKey, value: String(token) }], {
        actor: `edge-scheduler ${this.#o.nodeId}`, guard,
      });
      this.stats.writes++;
      return "ok";
    } catch (e) {
      if (e instanceof StaleFence) return this.#stale(deviceId, `the desired shadow carries token ${e.stored} > ours`);
      if (e instanceof ShadowError && e.code === ShadowErrorCode.Contended) this.stats.versionConflicts++;
      else this.stats.writeErrors++;
      this.#o.log?.(`edge scheduler: writing ${deviceId}: ${String(e)}`);
      return "failed";
    }
  }

  #stale(deviceId: string, why: string): WriteOutcome {
    this.stats.staleToken++;
    this.#o.log?.(`edge scheduler: write to ${deviceId} refused as stale (${why}); stopping`);
    return "stale";
  }
}

/** The guard's refusal: a newer scheduler's token is in the document. */
class StaleFence extends Error {
  readonly stored: number;
  constructor(stored: number) {
    super(`edge.fence ${stored}`);
    this.stored = stored;
  }
}

/** The job fields a desired document holds (deleted ones, with no value, are not). */
function jobFields(fields: ShadowFields): string[] {
  return Object.keys(fields).filter((k) => k.startsWith(jobSettingPrefix) && fields[k]!.siblings.length > 0);
}

/** The highest scheduler token in "edge.fence" (every sibling counts: concurrent writes keep the highest), 0 when none. */
function fenceOf(fields: ShadowFields): number {
  let max = 0;
  for (const s of fields[edgeFenceSettingKey]?.siblings ?? []) {
    let v: unknown;
    try {
      v = JSON.parse(s.value);
    } catch {
      continue;
    }
    const n = typeof v === "string" ? Number(v) : NaN;
    if (Number.isSafeInteger(n) && n > max) max = n;
  }
  return max;
}

/** True when the document already is as the change wants it (nothing to write). */
function unchanged(fields: ShadowFields, c: ShadowChange): boolean {
  const set = fields[c.field];
  if ("deleted" in c) return set === undefined || set.siblings.length === 0;
  return set !== undefined && set.siblings.length === 1 && set.siblings[0]!.value === JSON.stringify(c.value);
}
