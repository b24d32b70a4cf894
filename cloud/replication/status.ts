// What a running system replicates how, read back from JetStream: per data
// set its mode (from the stream's description, set by streams.ts), the
// primary's replicas and leader, and for a mirrored set the mirror's server
// and lag (primary last seq − mirror last seq). For the status line and
// `xsfleet status`.
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import { mirrorStreamName, modeFromDescription, type DataSet, type EffectiveReplication } from "./modes";

export interface ReplicationStatus {
  dataSet: DataSet;
  stream: string;
  /** null: the stream does not exist (yet), or was made before modes were recorded. */
  mode: EffectiveReplication | null;
  replicas: number;
  leader: string | null;
  mirror: { server: string | null; lag: number } | null;
}

export async function replicationStatus(jsm: JetStreamManager, sets: readonly { dataSet: DataSet; stream: string }[]): Promise<ReplicationStatus[]> {
  const out: ReplicationStatus[] = [];
  for (const { dataSet, stream } of sets) {
    try {
      const info = await jsm.streams.info(stream);
      let mirror: ReplicationStatus["mirror"] = null;
      try {
        const m = await jsm.streams.info(mirrorStreamName(stream));
        mirror = { server: m.cluster?.leader ?? null, lag: Math.max(0, info.state.last_seq - m.state.last_seq) };
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
      }
      const replicas = info.config.num_replicas;
      // Streams made without a recorded mode (KV buckets, older releases): R>1 is sync.
      const mode = modeFromDescription(info.config.description) ?? (replicas > 1 ? "sync" : mirror ? null : "single");
      out.push({ dataSet, stream, mode, replicas, leader: info.cluster?.leader ?? null, mirror });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
        out.push({ dataSet, stream, mode: null, replicas: 0, leader: null, mirror: null });
        continue;
      }
      throw err;
    }
  }
  return out;
}

const shortName: Record<DataSet, string> = { uplinks: "up", "device-state": "state", "control-plane": "ctl", history: "hist", analytics: "out" };

/** "up sync·R3 state sync·R3 hist semi-sync(lag 0) out async(lag 12)". */
export function formatReplication(st: readonly ReplicationStatus[]): string {
  return st.map((s) => {
    const what = s.mode === null ? "?" : s.mirror ? `${s.mode}(lag ${s.mirror.lag})` : s.mode === "sync" ? `sync·R${s.replicas}` : s.mode;
    return `${shortName[s.dataSet]} ${what}`;
  }).join(" ");
}
