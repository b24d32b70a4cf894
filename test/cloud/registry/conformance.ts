// One DeviceRegistry contract, every implementation (KV, control plane over
// a proposer, control plane over Raft): linearizable per device, no lost
// update, conflicts only when the caller pinned a revision or version.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryError, type DeviceRegistry } from "../../../cloud/registry/types";

export interface RegistryFixture {
  /** Independent writers (separate connections/clients where that applies). */
  writers: DeviceRegistry[];
  /** Conflicts resolved by retrying so far (proves races really happened). */
  conflicts(): number;
  stop(): Promise<void>;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof RegistryError) return e.code;
    throw e;
  }
}

export function runRegistryConformance(name: string, setup: () => Promise<RegistryFixture>): void {
  describe(`DeviceRegistry conformance: ${name}`, () => {
    let fx: RegistryFixture;
    let writers: DeviceRegistry[];
    beforeAll(async () => {
      fx = await setup();
      writers = fx.writers;
    });
    afterAll(async () => {
      await fx?.stop();
    });

    it("loses no metadata update when many writers patch one device at once", async () => {
      await writers[0]!.register("hot");
      const before = fx.conflicts();
      await Promise.all(writers.map(async (w, wi) => {
        for (let k = 0; k < 8; k++) await w.setMetadata("hot", { [`w${wi}-k${k}`]: String(k) });
      }));
      const rec = await writers[0]!.get("hot");
      expect(Object.keys(rec!.metadata)).toHaveLength(Math.min(writers.length * 8, 32));
      for (let wi = 0; wi < writers.length; wi++) for (let k = 0; k < 8 && wi * 8 + k < 32; k++) expect(rec!.metadata[`w${wi}-k${k}`]).toBe(String(k));
      // The race really happened and was resolved by retrying, not by luck.
      expect(fx.conflicts()).toBeGreaterThan(before);
    });

    it("lets exactly one of several writers with the same expected revision win", async () => {
      const rec = await writers[0]!.register("guarded");
      const codes = await Promise.all(writers.map((w, i) => codeOf(w.setMetadata("guarded", { owner: `w${i}` }, { expectedRevision: rec.revision }))));
      expect(codes.filter((c) => c === "ok")).toHaveLength(1);
      expect(codes.filter((c) => c === "conflict")).toHaveLength(writers.length - 1);
    });

    it("registers a device once when registrations race", async () => {
      const codes = await Promise.all(writers.map((w) => codeOf(w.register("racy"))));
      expect(codes.filter((c) => c === "ok")).toHaveLength(1);
      expect(codes.filter((c) => c === "already_exists")).toHaveLength(writers.length - 1);
    });

    it("refuses writes to a decommissioned device until it is registered again", async () => {
      const w = writers[0]!;
      await w.register("cycle");
      await w.setMetadata("cycle", { led: "on" });
      await w.decommission("cycle");
      expect(await codeOf(w.setMetadata("cycle", { led: "off" }))).toBe("decommissioned");
      expect(await codeOf(w.decommission("cycle"))).toBe("decommissioned");
      expect((await w.get("cycle"))!.lifecycle).toBe("decommissioned");
      await w.register("cycle");
      expect((await w.setMetadata("cycle", { led: "off" })).metadata).toEqual({ led: "off" });
    });

    it("lists devices in id order, page by page, filtered by lifecycle", async () => {
      for (const id of ["list-a", "list-b", "list-c"]) await writers[0]!.register(id);
      await writers[0]!.decommission("list-b");
      const seen: string[] = [];
      let after: string | undefined = "list-";
      for (;;) {
        const page = await writers[1]!.list({ limit: 1, lifecycle: "registered", ...(after ? { after } : {}) });
        seen.push(...page.devices.map((d) => d.deviceId).filter((id) => id.startsWith("list-")));
        if (!page.next || !page.next.startsWith("list-")) break;
        after = page.next;
      }
      expect(seen).toEqual(["list-a", "list-c"]);
    });

    it("rejects bad input with clear messages", async () => {
      await expect(writers[0]!.register("no.dots")).rejects.toThrow(/invalid device id/);
      await expect(writers[0]!.register("m", { metadata: { k: "x".repeat(2000) } })).rejects.toThrow(/longer than 1024 bytes/);
      await writers[0]!.register("m2");
      await expect(writers[0]!.setMetadata("m2", { "bad key!": "x" })).rejects.toThrow(/metadata key/);
      await expect(writers[0]!.setMetadata("missing", { a: "b" })).rejects.toMatchObject({ code: "not_found" });
    });
  });
}
