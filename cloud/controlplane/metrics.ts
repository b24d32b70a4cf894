// Prometheus metrics of one control-plane replica (docs/observability.md):
// Raft term, commit and applied index, apply lag, WAL fsyncs and their
// duration, elections started and leader changes seen, leadership, and the
// transport's counters. Read from RaftNode at scrape time; the fsync
// histogram is fed by the WAL, the proposal stage histogram by the node's
// stage timings (stage-timings.ts).
import { Histogram } from "prom-client";
import { createProcessMetrics, type ProcessMetrics } from "../metrics";
import type { RaftNode } from "./raft-node";
import { STAGES, type Stage } from "./stage-timings";

/** Buckets for an fdatasync: 0.5 ms to 1 s. */
const fsyncBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1];
/** Buckets for one stage of a proposal: 10 µs (apply, reply) to 1 s. */
const stageBuckets = [0.00001, 0.00003, 0.0001, 0.0003, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1];

export interface ReplicaMetrics {
  readonly metrics: ProcessMetrics;
  /** Pass as RaftNodeOptions.onFsync. */
  observeFsync(seconds: number): void;
  /** Pass as RaftNodeOptions.onStage. */
  observeStage(stage: Stage, seconds: number): void;
  /** Registers the collectors that read the node (once it is open). */
  attach(node: RaftNode): void;
}

export function createReplicaMetrics(id: number): ReplicaMetrics {
  const metrics = createProcessMetrics({ process: `raft-${id}` });
  const fsync = new Histogram({ name: "xsfleet_raft_fsync_duration_seconds", help: "WAL fdatasync duration", buckets: fsyncBuckets, registers: [metrics.registry] });
  const stage = new Histogram({
    name: "xsfleet_raft_proposal_stage_seconds", labelNames: ["stage"], buckets: stageBuckets, registers: [metrics.registry],
    help: "Time of one write in each stage on this replica (leader: queue, append_send, replication, commit_wait, apply, reply, total_in_leader, leader_fsync; follower: follower_ack, follower_fsync)",
  });
  // Bound once per stage: the hot path skips building a label object per observation.
  const byStage = new Map(STAGES.map((s) => [s, stage.labels({ stage: s })]));
  return {
    metrics,
    observeFsync: (s) => fsync.observe(s),
    observeStage: (s, seconds) => byStage.get(s)!.observe(seconds),
    attach(node) {
      metrics.gaugeFrom("xsfleet_raft_term", "Current Raft term", () => node.status().term);
      metrics.gaugeFrom("xsfleet_raft_commit_index", "Highest log index known committed", () => node.status().commit);
      metrics.gaugeFrom("xsfleet_raft_applied_index", "Highest log index applied to the state machine", () => node.status().applied);
      metrics.gaugeFrom("xsfleet_raft_apply_lag_entries", "Committed entries not yet applied", () => { const s = node.status(); return s.commit - s.applied; });
      metrics.gaugeFrom("xsfleet_raft_is_leader", "1 while this replica is the leader", () => (node.isLeader ? 1 : 0));
      metrics.counterFrom("xsfleet_raft_fsyncs_total", "WAL fdatasync calls", () => node.status().fsyncs);
      metrics.counterFrom("xsfleet_raft_elections_total", "Elections this replica started (became candidate)", () => node.transitions.elections);
      metrics.counterFrom("xsfleet_raft_leader_changes_total", "Leader changes this replica saw", () => node.transitions.leaderChanges);
      metrics.labelledCounterFrom("xsfleet_raft_transport_events_total", "Raft transport counters of this replica (batchesSent, messagesSent, bytesSent, inboxDropped, ...)", "event", () => ({ ...node.status().transport }));
    },
  };
}
