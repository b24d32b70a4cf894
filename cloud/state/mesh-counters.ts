// The cloud-wide value of a mesh counter (docs/edge.md "Mesh"): every mesh
// peer that reaches the cloud reports the mesh's merged counters as PN
// states named `mesh-<name>` in its own device state. Each report already
// holds every peer's entries it has heard of, so the reports of all
// reporters merge (max per replica, shared/crdt PNCounter.merge) to the
// mesh's total, never double counted; summing them would be (reportedSum
// shows what that would claim).
//
// Pure: device states in, merged counters out; no I/O, no clock. Bounds:
// at most `meshCountersMax` counter names (more are counted in
// `namesDropped`), reporters listed per counter at most `meshReportersListedMax`
// (all are merged and counted); a state that does not decode (or breaks the
// CRDT limits) is skipped and counted in `bad`.
import { PNCounter } from "../../shared/crdt/pncounter";
import { CrdtError } from "../../shared/crdt/wire";
import { meshCounterPrefix } from "../../shared/crdt/mesh-names";
import type { DeviceState } from "./types";

export const meshCountersMax = 64;
export const meshReportersListedMax = 32;

export interface MeshCounterView {
  /** The counter's name in the mesh (without the `mesh-` prefix). */
  name: string;
  /** Merged across every reporter: the mesh's total. */
  value: number;
  /** Devices whose state holds this counter (sorted; at most meshReportersListedMax). */
  reporters: string[];
  reporterCount: number;
  /** Replicas (peers) in the merged state. */
  replicas: number;
  /** What adding up the reports would claim (the double count the merge avoids). */
  reportedSum: number;
}

export interface MeshCounters {
  counters: MeshCounterView[];
  /** Devices read. */
  devices: number;
  /** Reported states that did not decode or broke a CRDT bound. */
  bad: number;
  namesDropped: number;
}

/** Merges every device's `mesh-*` PN states per counter name. */
export function mergeMeshCounters(states: Iterable<DeviceState>): MeshCounters {
  const byName = new Map<string, { merged: PNCounter; reporters: string[]; sum: number }>();
  let devices = 0;
  let bad = 0;
  let namesDropped = 0;
  for (const st of states) {
    devices++;
    for (const [key, c] of Object.entries(st.counters)) {
      if (!key.startsWith(meshCounterPrefix) || c.kind !== "pn") continue;
      const name = key.slice(meshCounterPrefix.length);
      let entry = byName.get(name);
      if (entry === undefined) {
        if (byName.size >= meshCountersMax) { namesDropped++; continue; }
        entry = { merged: new PNCounter(), reporters: [], sum: 0 };
        byName.set(name, entry);
      }
      try {
        entry.merged.merge(PNCounter.decode(new Uint8Array(Buffer.from(c.state, "base64"))));
      } catch (e) {
        if (!(e instanceof CrdtError)) throw e;
        bad++;
        continue;
      }
      entry.reporters.push(st.deviceId);
      entry.sum += c.value;
    }
  }
  const counters: MeshCounterView[] = [...byName.entries()]
    .filter(([, e]) => e.reporters.length > 0)
    .map(([name, e]) => {
      const reporters = e.reporters.sort();
      const j = e.merged.toJSON();
      return {
        name, value: e.merged.value(), reporters: reporters.slice(0, meshReportersListedMax), reporterCount: reporters.length,
        replicas: new Set([...Object.keys(j.p), ...Object.keys(j.n)]).size, reportedSum: e.sum,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { counters, devices, bad, namesDropped };
}
