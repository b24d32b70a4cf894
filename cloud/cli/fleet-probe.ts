// Reads what an operator wants on one line from a running system, through
// NATS only: device presence (a live mirror of the state KV, one watch, no
// key listing per snapshot), ingest consumer lag, dead letters, and live
// points/s from the integrator output subjects.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { decodePayload } from "../compression";
import { IngestStream, ingestStreamDataSet } from "../ingest";
import { commandsBucket } from "../commands";
import { DataSet, replicationStatus, type ReplicationStatus } from "../replication";
import { DevicePresence } from "../../shared/device-presence";
import { MemberStatus, type MemberView } from "../membership";
import { DeviceStateMirror, deviceStateBucket } from "../state";
import { Uplink } from "../../shared/topics";
import { allAlertsSubject, allOutTelemetrySubject, allPartitionedDevicesSubject, cacheStatsSubject, ClusterApiSubject, EdgeApiSubject } from "../subjects";
import { summarizeCacheStats, type CacheSummary } from "../cache";
import type { EdgeJobsReply } from "../recovery";

/** How long a snapshot gathers the cache nodes' counters. */
const cacheWaitMs = 300;
/** Devices the status line mirrors (the fleet simulator's own maximum). */
const devicesShownMax = 10_000;
/** Names of ingest's consumers on XSF_UP (xsf-ingest-p<N>, xsf-ingest-wills). */
const ingestConsumerPrefix = "xsf-ingest-";

/** Telemetry messages in XSF_UP (one count per device subject, summed). */
async function telemetryStored(jsm: JetStreamManager): Promise<number> {
  try {
    const info = await jsm.streams.info(IngestStream.Uplinks, { subjects_filter: allPartitionedDevicesSubject(Uplink.Telemetry) });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  } catch {
    return 0;
  }
}

export interface FleetSnapshot {
  devicesKnown: number;
  devicesOnline: number;
  /** Messages waiting for or being processed by ingest (all partitions and the will relay). */
  consumerLag: number;
  deadLetters: number;
  telemetryMessages: number;
  /** Cloud nodes by SWIM/heartbeat status, from xsfleet.v1.api.cluster.members (null: no orchestration role runs). */
  members: { up: number; suspect: number; down: number } | null;
  /** Which live node holds which singleton lease (from the members' heartbeats), sorted by lease. */
  singletons: { lease: string; nodeId: string }[];
  /** The cache nodes' counters summed (null: no cache node answered). */
  cache: CacheSummary | null;
  /** Replication mode per data set as JetStream holds it (docs/data-plane.md "Replication"). */
  replication: ReplicationStatus[];
  /** Edge jobs the scheduler placed, of those defined (xsfleet.v1.api.edge.jobs; null: no scheduler answers). */
  edgeJobs: { placed: number; jobs: number } | null;
}

/** Alert ids remembered to count each once (then forgotten: a late copy may count again). */
const alertIdsSeenMax = 100_000;
/** The data sets the status shows, each by the stream that holds it. */
const replicatedSets: readonly { dataSet: DataSet; stream: string }[] = [
  ...[IngestStream.Uplinks, IngestStream.History, IngestStream.Out].map((stream) => ({ dataSet: ingestStreamDataSet[stream], stream })),
  { dataSet: DataSet.DeviceState, stream: kvStreamName(deviceStateBucket) },
  { dataSet: DataSet.ControlPlane, stream: kvStreamName(commandsBucket) },
];

/** The stream behind a KV bucket. */
function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

const outDecoder = new TextDecoder();
/** Largest decoded out message the probe reads (XSF_OUT stores at most 1 MiB). */
const outBytesMax = 1024 * 1024;

export class FleetProbe {
  #jsm: JetStreamManager | undefined;
  readonly #devices: DeviceStateMirror;
  #sub: Subscription | undefined;
  #points = 0;
  #batches = 0;
  #alertsSub: Subscription | undefined;
  /** Alert events seen since the probe started (cloud/analytics, xsfleet.v1.alerts.>). */
  readonly alerts = { raised: 0, acknowledged: 0, cleared: 0 };

  constructor(readonly nc: NatsConnection) {
    this.#devices = new DeviceStateMirror(nc, { devicesMax: devicesShownMax }).start();
  }

  /** Starts counting points on xsfleet.v1.out.*.telemetry. */
  watchOutput(): void {
    const sub = this.nc.subscribe(allOutTelemetrySubject);
    this.#sub = sub;
    void (async () => {
      for await (const m of sub) {
        try {
          // Out messages may be compressed (ingest outCodec); decode by their header.
          const j = JSON.parse(outDecoder.decode(decodePayload(m.data, m.headers, outBytesMax))) as { points?: number };
          this.#points += typeof j.points === "number" ? j.points : 0;
          this.#batches++;
        } catch {
          // not ours to judge; ingest validated it
        }
      }
    })();
  }

  /** Starts counting alert events (raised, acknowledged, cleared) on xsfleet.v1.alerts.>. */
  watchAlerts(): void {
    const sub = this.nc.subscribe(allAlertsSubject);
    this.#alertsSub = sub;
    void (async () => {
      // Core subscribers see a replay's republished copies too (the stream drops them): count each id once.
      const seen = new Set<string>();
      for await (const m of sub) {
        try {
          const { state: st, id } = m.json<{ state?: string; id?: string }>();
          if (typeof id !== "string" || seen.has(id)) continue;
          if (seen.size >= alertIdsSeenMax) seen.clear();
          seen.add(id);
          if (st === "raised" || st === "acknowledged" || st === "cleared") this.alerts[st]++;
        } catch {
          // not an alert event
        }
      }
    })();
  }

  /** Waits (at most timeoutMs) until the device mirror holds the whole state bucket: for one-shot snapshots. */
  ready(timeoutMs: number): Promise<boolean> {
    return this.#devices.ready(timeoutMs);
  }

  get outputPoints(): number {
    return this.#points;
  }

  get outputBatches(): number {
    return this.#batches;
  }

  async snapshot(): Promise<FleetSnapshot> {
    this.#jsm ??= await jetstreamManager(this.nc);
    const jsm = this.#jsm;
    let consumerLag = 0;
    try {
      // Every ingest consumer on XSF_UP: one per partition and the will relay's.
      for await (const ci of jsm.consumers.list(IngestStream.Uplinks)) {
        if (ci.name.startsWith(ingestConsumerPrefix)) consumerLag += ci.num_pending + ci.num_ack_pending;
      }
    } catch {
      // stream not created yet
    }
    const msgs = async (stream: string): Promise<number> => {
      try {
        return (await jsm.streams.info(stream)).state.messages;
      } catch {
        return 0;
      }
    };
    let devicesOnline = 0;
    for (const d of this.#devices.devices()) if (d.presence.state === DevicePresence.Online) devicesOnline++;
    const devicesKnown = this.#devices.size + this.#devices.droppedIds;
    const [cluster, edgeJobs] = await Promise.all([this.cluster(), this.edgeJobs()]);
    return {
      devicesKnown, devicesOnline, consumerLag, deadLetters: await msgs(IngestStream.DeadLetter),
      telemetryMessages: await telemetryStored(jsm), members: cluster?.members ?? null, singletons: cluster?.singletons ?? [],
      cache: await this.cache(),
      replication: await replicationStatus(jsm, replicatedSets).catch(() => []),
      edgeJobs,
    };
  }

  /** Placed and defined edge jobs, from the scheduler's edge.jobs API; null when no scheduler answers. */
  async edgeJobs(): Promise<FleetSnapshot["edgeJobs"]> {
    try {
      const r = (await this.nc.request(EdgeApiSubject.Jobs, "{}", { timeout: 1_000 })).json<EdgeJobsReply>();
      return { placed: r.placed, jobs: r.jobs.length };
    } catch {
      return null;
    }
  }

  /** Member counts and singleton holders as one live node sees them; null when no orchestration role answers. */
  async cluster(): Promise<Pick<FleetSnapshot, "members" | "singletons"> | null> {
    try {
      const reply = await this.nc.request(ClusterApiSubject.Members, "{}", { timeout: 1_000 });
      const { members } = reply.json<{ members: Pick<MemberView, "nodeId" | "status" | "leases">[] }>();
      const count = (st: MemberStatus): number => members.filter((m) => m.status === st).length;
      return { members: { up: count(MemberStatus.Up), suspect: count(MemberStatus.Suspect), down: count(MemberStatus.Down) }, singletons: singletonHolders(members) };
    } catch {
      return null;
    }
  }

  /** Every cache node's counters, gathered for cacheWaitMs; null when none answered. */
  async cache(): Promise<CacheSummary | null> {
    const replies: unknown[] = [];
    try {
      for await (const m of await this.nc.requestMany(cacheStatsSubject, "", { strategy: "timer", maxWait: cacheWaitMs })) {
        try {
          replies.push(m.json());
        } catch {
          // a malformed reply is left out of the sum
        }
      }
    } catch {
      return null;
    }
    return replies.length === 0 ? null : summarizeCacheStats(replies);
  }

  stop(): void {
    this.#sub?.unsubscribe();
    this.#alertsSub?.unsubscribe();
    this.#devices.stop();
  }
}

/**
 * Lease → holder from members' heartbeats. A node that is down (or
 * suspected) may still list a lease it lost; a live node's claim wins.
 */
export function singletonHolders(members: readonly Pick<MemberView, "nodeId" | "status" | "leases">[]): { lease: string; nodeId: string }[] {
  const by = new Map<string, { nodeId: string; up: boolean }>();
  for (const m of members) {
    const up = m.status === MemberStatus.Up;
    for (const lease of m.leases) {
      const cur = by.get(lease);
      if (!cur || (up && !cur.up)) by.set(lease, { nodeId: m.nodeId, up });
    }
  }
  return [...by].filter(([, h]) => h.up).map(([lease, h]) => ({ lease, nodeId: h.nodeId })).sort((a, b) => a.lease.localeCompare(b.lease));
}
