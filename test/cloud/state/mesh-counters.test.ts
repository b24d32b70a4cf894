// The cloud-wide merge of mesh counters (cloud/state/mesh-counters.ts):
// reports from several devices merge per replica to the mesh's total, never
// their sum; other counters are ignored; a report that does not decode is
// counted, not merged.
import { describe, expect, it } from "vitest";
import { mergeMeshCounters } from "../../../cloud/state";
import { emptyDeviceState, type DeviceState } from "../../../cloud/state/types";
import { PNCounter } from "../../../shared/crdt/pncounter";

const b64 = (c: PNCounter): string => Buffer.from(c.encode()).toString("base64");

function reporter(id: string, entries: Record<string, number>, extra: DeviceState["counters"] = {}): DeviceState {
  const c = new PNCounter();
  for (const [r, n] of Object.entries(entries)) c.add(r, n);
  const st = emptyDeviceState(id);
  st.counters = { "mesh-events": { kind: "pn", value: c.value(), state: b64(c) }, ...extra };
  return st;
}

describe("mergeMeshCounters", () => {
  it("merges reports max per replica: the total, not the sum", () => {
    // a saw p1..p3 at different points than b; p4 only b has heard of.
    const a = reporter("mesh-0", { p1: 5, p2: 3, p3: 1 });
    const b = reporter("mesh-1", { p1: 4, p2: 3, p3: 2, p4: 7 });
    const r = mergeMeshCounters([a, b, emptyDeviceState("plain")]);
    expect(r.devices).toBe(3);
    expect(r.counters).toEqual([{ name: "events", value: 5 + 3 + 2 + 7, reporters: ["mesh-0", "mesh-1"], reporterCount: 2, replicas: 4, reportedSum: 9 + 16 }]);
    expect(r.bad).toBe(0);
  });

  it("ignores non-mesh counters and counts reports that do not decode", () => {
    const own = new PNCounter();
    own.add("x", 3);
    const ok = reporter("mesh-0", { p1: 2 }, { uptime: { kind: "pn", value: 3, state: b64(own) } });
    const broken = emptyDeviceState("mesh-9");
    broken.counters = { "mesh-events": { kind: "pn", value: 99, state: Buffer.from([0xff, 0xff, 0xff]).toString("base64") } };
    const r = mergeMeshCounters([ok, broken]);
    expect(r.bad).toBe(1);
    expect(r.counters.map((c) => [c.name, c.value, c.reporters])).toEqual([["events", 2, ["mesh-0"]]]);
  });
});
