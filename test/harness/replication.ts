// Data sets in each replication mode on a real 3-server cluster, and the
// facts a primary-loss run needs: which server holds a stream's leader,
// what a stream (or its mirror) holds. Shared by the replication test and
// bench:replication. Messages carry their writer's id as the payload (a
// decimal string), so "acknowledged but lost" is a set difference.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type PubAck } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  applyPlan, clusterServers, DataSet, ensureMirror, mirrorStreamName, planReplication, ReplicationMode, SemiSyncWriter, type ReplicationPlan, type StreamSpec,
} from "../../cloud/replication";
import { readStream } from "./delivery-probe";
import type { NatsCluster } from "./nats";

export interface ModeDataSet {
  mode: ReplicationMode;
  plan: ReplicationPlan;
  stream: string;
  subject: string;
  /** Where reads go after the primary's loss: the stream itself (sync) or its mirror. */
  survivor: string;
  /** Semi-sync only. */
  writer: SemiSyncWriter | null;
  /** Publishes id; resolves with the ack and whether it counts as replicated (sync: always; async: never known). */
  write(js: JetStreamClient, id: number): Promise<{ ack: PubAck; replicated: boolean }>;
}

const enc = new TextEncoder();

/** Creates stream `name` on `<name>.x` in `mode` (R3 or R1 + mirror on another server). */
export async function modeDataSet(nc: NatsConnection, name: string, mode: ReplicationMode, opts: { semiSyncTimeoutMs?: number } = {}): Promise<ModeDataSet> {
  const jsm = await jetstreamManager(nc);
  const plan = planReplication(DataSet.History, mode, 3);
  const subject = `${name.toLowerCase()}.x`;
  const cfg: StreamSpec = applyPlan({ name, subjects: [subject], max_bytes: 256 * 1024 * 1024, duplicate_window: 60_000_000_000 }, plan);
  await jsm.streams.add(cfg);
  // An R3 stream lists the servers; a throwaway one when the data set is R1.
  const probeName = `${name}_PEERS`;
  await jsm.streams.add({ name: probeName, subjects: [`${name.toLowerCase()}.peers`], num_replicas: 3 });
  const servers = clusterServers(await jsm.streams.info(probeName));
  await jsm.streams.delete(probeName);
  await ensureMirror(jsm, cfg, plan, servers);
  const writer = mode === ReplicationMode.SemiSync
    ? new SemiSyncWriter(jsm, name, mirrorStreamName(name), { timeoutMs: opts.semiSyncTimeoutMs ?? 1_000 })
    : null;
  return {
    mode, plan, stream: name, subject, survivor: plan.mirror ? mirrorStreamName(name) : name, writer,
    async write(js, id) {
      const ack = await js.publish(subject, enc.encode(String(id)), { msgID: String(id), timeout: 2_000 });
      if (mode === ReplicationMode.Sync) return { ack, replicated: true };
      if (!writer) return { ack, replicated: false };
      return { ack, replicated: (await writer.after(ack)) === "replicated" };
    },
  };
}

/** The index in `cluster.nodes` of the server leading `stream`. */
export async function leaderIndex(jsm: JetStreamManager, cluster: NatsCluster, stream: string): Promise<number> {
  const leader = (await jsm.streams.info(stream)).cluster?.leader;
  const i = cluster.nodes.findIndex((n) => n.name === leader);
  if (i < 0) throw new Error(`no leader known for ${stream} (${leader ?? "none"})`);
  return i;
}

/** The ids and stream sequences `stream` holds now. */
export async function storedIds(nc: NatsConnection, stream: string): Promise<{ ids: Set<number>; seqs: number[] }> {
  const ids = new Set<number>();
  const seqs: number[] = [];
  const dec = new TextDecoder();
  await readStream(jetstream(nc), stream, "", (m) => { ids.add(Number(dec.decode(m.data))); seqs.push(m.seq); });
  return { ids, seqs };
}
