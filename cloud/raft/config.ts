// Raft configuration: defaults for the named limits and validation with
// clear messages, at construction.

import { DEFAULTS, ReadOnlyOption } from "./types";
import type { RaftConfig } from "./types";

export type ResolvedConfig = Required<Omit<RaftConfig, "applied" | "logger" | "random">>;

export function resolveConfig(config: RaftConfig): ResolvedConfig {
  validateConfig(config);
  return {
    id: config.id,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    msgBytesMax: config.msgBytesMax ?? DEFAULTS.msgBytesMax,
    inflightMsgsMax: config.inflightMsgsMax ?? DEFAULTS.inflightMsgsMax,
    inflightBytesMax: config.inflightBytesMax ?? DEFAULTS.inflightBytesMax,
    uncommittedBytesMax: config.uncommittedBytesMax ?? DEFAULTS.uncommittedBytesMax,
    snapshotChunkBytesMax: config.snapshotChunkBytesMax ?? DEFAULTS.snapshotChunkBytesMax,
    preVote: config.preVote ?? false,
    checkQuorum: config.checkQuorum ?? false,
    readOnlyOption: config.readOnlyOption ?? ReadOnlyOption.Safe,
    readIndexPendingMax: config.readIndexPendingMax ?? DEFAULTS.readIndexPendingMax,
  };
}

export function validateConfig(c: RaftConfig): void {
  if (!Number.isInteger(c.id) || c.id <= 0) throw new Error(`raft config: id must be a positive integer, got ${c.id}`);
  if (!Number.isInteger(c.heartbeatTicks) || c.heartbeatTicks <= 0) {
    throw new Error(`raft config: heartbeatTicks must be > 0, got ${c.heartbeatTicks}`);
  }
  if (!Number.isInteger(c.electionTicks) || c.electionTicks <= c.heartbeatTicks) {
    throw new Error(`raft config: electionTicks (${c.electionTicks}) must exceed heartbeatTicks (${c.heartbeatTicks})`);
  }
  if (c.readOnlyOption === ReadOnlyOption.LeaseBased && !c.checkQuorum) {
    throw new Error("raft config: lease-based reads require checkQuorum");
  }
  if ((c.inflightMsgsMax ?? 1) <= 0) throw new Error("raft config: inflightMsgsMax must be > 0");
  if ((c.snapshotChunkBytesMax ?? 1) <= 0) throw new Error("raft config: snapshotChunkBytesMax must be > 0");
  if ((c.msgBytesMax ?? 1) <= 0) throw new Error("raft config: msgBytesMax must be > 0");
  if ((c.inflightBytesMax ?? 0) < 0 || (c.uncommittedBytesMax ?? 0) < 0) {
    throw new Error("raft config: inflightBytesMax and uncommittedBytesMax must be >= 0 (0 = unlimited)");
  }
  if ((c.readIndexPendingMax ?? 1) <= 0) throw new Error("raft config: readIndexPendingMax must be > 0");
}
