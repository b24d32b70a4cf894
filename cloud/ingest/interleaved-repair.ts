// Workaround for a nats-server 2.9 race: concurrent expected-last-subject-
// sequence writes on a clustered KV stream can both succeed, so a CAS that
// "won" may have replaced another node's write. After each successful CAS
// this looks for a write that slipped in between the revision read and ours
// and merges it back (totals of batches both applied are estimated).
// A later issue gives each device a single writer; then this file goes.
import type { Logger } from "../base";
import type { DeviceStateStore, LoadedState } from "../state";
import { mergeInterleaved } from "./apply";
import type { IngestStats } from "./types";

export interface InterleavedRepairDeps {
  store: DeviceStateStore;
  seqWindow: number;
  casAttemptsMax: number;
  stats: IngestStats;
  log: Logger;
}

/** The pipeline's `settle` hook: `ours` was written over `expected`; returns the state as it ends up stored. */
export function interleavedRepair(d: InterleavedRepairDeps): (deviceId: string, ours: LoadedState, expected: number) => Promise<LoadedState> {
  return async (deviceId, ours, expected) => {
    const iw = await d.store.interleavedWrite(deviceId, expected, ours.revision);
    if (!iw) return ours;
    d.stats.lostUpdatesRepaired++;
    let cur = ours;
    for (let attempt = 1; attempt <= d.casAttemptsMax; attempt++) {
      const m = mergeInterleaved(cur.state, iw.other, iw.base, d.seqWindow);
      if (m.overlap > 0 || !iw.base) d.log.warn("ingest: repaired a concurrent device-state write; totals estimated", { deviceId, overlap: m.overlap });
      const rev = await d.store.compareAndSet(deviceId, m.state, cur.revision);
      if (rev !== null) return { state: m.state, revision: rev };
      d.stats.casRetries++;
      cur = await d.store.load(deviceId);
    }
    throw new Error(`could not write the repaired state of ${deviceId}`);
  };
}
