// The registry gate's cache (cloud/registry/admission.ts) with an in-memory
// feed and lookup; the KV watch is covered against a real server in
// test/cloud/ingest/receipts.test.ts.
import { describe, expect, it } from "vitest";
import { AdmissionCache, DeviceLifecycle, type RegistryFeed } from "../../../cloud/registry";

type Lc = DeviceLifecycle | null;

function fakeRegistry() {
  const records = new Map<string, DeviceLifecycle>();
  let push: ((id: string, lc: Lc) => void) | null = null;
  let lookups = 0;
  const feed: RegistryFeed = {
    async start(onChange) {
      push = onChange;
      for (const [id, lc] of records) onChange(id, lc);
      return { ended: false, stop: () => { push = null; } };
    },
  };
  return {
    feed,
    lookup: async (id: string): Promise<Lc> => { lookups++; return records.get(id) ?? null; },
    write(id: string, lc: Lc): void { if (lc === null) records.delete(id); else records.set(id, lc); push?.(id, lc); },
    /** A write the watch has not delivered yet. */
    writeQuietly(id: string, lc: DeviceLifecycle): void { records.set(id, lc); },
    get lookups() { return lookups; },
  };
}

describe("AdmissionCache", () => {
  it("answers from the watch, and looks up a miss (a device registered a moment ago)", async () => {
    const r = fakeRegistry();
    r.write("a", DeviceLifecycle.Registered);
    const gate = new AdmissionCache(r.lookup, r.feed);
    expect(await gate.check("a")).toBe(DeviceLifecycle.Registered);
    expect(r.lookups).toBe(0);
    r.writeQuietly("b", DeviceLifecycle.Registered);
    expect(await gate.check("b")).toBe(DeviceLifecycle.Registered);
    expect(r.lookups).toBe(1);
    expect(await gate.check("b")).toBe(DeviceLifecycle.Registered);
    expect(r.lookups).toBe(1);
  });

  it("follows decommission, re-registration and deletion through the watch", async () => {
    const r = fakeRegistry();
    const gate = new AdmissionCache(r.lookup, r.feed);
    expect(await gate.check("x")).toBeNull();
    r.write("x", DeviceLifecycle.Registered); // the watch overrides the cached "unknown"
    expect(await gate.check("x")).toBe(DeviceLifecycle.Registered);
    r.write("x", DeviceLifecycle.Decommissioned);
    expect(await gate.check("x")).toBe(DeviceLifecycle.Decommissioned);
    r.write("x", null);
    expect(await gate.check("x")).toBeNull();
  });

  it("without a watch, answers expire after the TTL; unknown ids are bounded", async () => {
    const r = fakeRegistry();
    let now = 0;
    const gate = new AdmissionCache(r.lookup, null, { unknownTtlMs: 1000, unknownMax: 2 }, () => now);
    r.writeQuietly("d", DeviceLifecycle.Registered);
    expect(await gate.check("d")).toBe(DeviceLifecycle.Registered);
    r.writeQuietly("d", DeviceLifecycle.Decommissioned);
    expect(await gate.check("d")).toBe(DeviceLifecycle.Registered); // cached
    now = 1000;
    expect(await gate.check("d")).toBe(DeviceLifecycle.Decommissioned);
    for (const id of ["u1", "u2", "u3"]) expect(await gate.check(id)).toBeNull();
    const before = r.lookups;
    await gate.check("u1"); // evicted (least recently used): looked up again
    expect(r.lookups).toBe(before + 1);
  });

  it("a registry that cannot answer makes check throw (the caller retries later)", async () => {
    const gate = new AdmissionCache(async () => { throw new Error("no registry"); }, null);
    await expect(gate.check("z")).rejects.toThrow(/no registry/);
  });
});
