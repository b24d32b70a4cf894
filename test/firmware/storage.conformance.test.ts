// One conformance suite for the Storage seam, run against every
// implementation that can run here (the ESP32 Preference one cannot).
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Storage } from "../../firmware/platform";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { FileStorage } from "../../firmware/host/file-storage";
import { Outbox, MessageClass, outboxDefaults } from "../../firmware/device/outbox";
import { SeededRandom } from "../../firmware/sim/sim-clock";
import { PersistentSequence } from "../../firmware/device/sequence";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), "xsfleet-storage-"));
  dirs.push(d);
  return d;
}

interface Impl {
  name: string;
  make(): { storage: Storage; reopen(): Storage };
}

const impls: Impl[] = [
  { name: "MemoryStorage", make: () => { const s = new MemoryStorage(); return { storage: s, reopen: () => s.clone() }; } },
  { name: "FileStorage", make: () => { const d = tmp(); return { storage: new FileStorage(d), reopen: () => new FileStorage(d) }; } },
  { name: "FileStorage (no fsync)", make: () => { const d = tmp(); return { storage: new FileStorage(d, { fsync: false }), reopen: () => new FileStorage(d) }; } },
];

for (const impl of impls) {
  describe(`Storage conformance: ${impl.name}`, () => {
    it("reads back what was written, as a copy", () => {
      const { storage } = impl.make();
      const b = Uint8Array.of(1, 2, 3);
      storage.write("k1", b);
      b[0] = 9;
      expect([...storage.read("k1")!]).toEqual([1, 2, 3]);
      const r = storage.read("k1")!;
      r[1] = 7;
      expect([...storage.read("k1")!]).toEqual([1, 2, 3]);
      expect(storage.read("missing")).toBeUndefined();
    });

    it("overwrites, removes (idempotently) and lists by prefix", () => {
      const { storage } = impl.make();
      storage.write("oa", Uint8Array.of(1));
      storage.write("ob", Uint8Array.of(2));
      storage.write("x", Uint8Array.of(3));
      storage.write("oa", Uint8Array.of(4, 5));
      expect([...storage.read("oa")!]).toEqual([4, 5]);
      expect(storage.keys("o").sort()).toEqual(["oa", "ob"]);
      storage.remove("ob");
      storage.remove("ob");
      expect(storage.keys("o")).toEqual(["oa"]);
      storage.write("empty", new Uint8Array(0));
      expect(storage.read("empty")!.length).toBe(0);
    });

    it("keeps everything across a reopen (what a reboot sees)", () => {
      const { storage, reopen } = impl.make();
      const limits = { ...outboxDefaults, messagesMax: 4, bytesMax: 1000, inflightMax: 2 };
      const ob = new Outbox(storage, limits, new SeededRandom(1));
      const seq = new PersistentSequence(storage, "seq", 4, new SeededRandom(2));
      for (let i = 0; i < 3; i++) ob.push(seq.take(), 2, MessageClass.Telemetry, Uint8Array.of(i, i));
      ob.settle(1, 1, false);
      const again = reopen();
      expect(new Outbox(again, limits, new SeededRandom(1)).ids()).toEqual([2, 3]);
      const seqAgain = new PersistentSequence(again, "seq", 4, new SeededRandom(3));
      expect(seqAgain.take()).toBe(5);
      expect(seqAgain.epoch).toBe(seq.epoch);
      expect(seqAgain.epochCreated).toBe(false);
    });

    it("refuses keys the ESP32 NVS could not store", () => {
      const { storage } = impl.make();
      expect(() => storage.write("a-key-that-is-too-long", Uint8Array.of(1))).toThrow(/storage key/);
      expect(() => storage.write("bad/key", Uint8Array.of(1))).toThrow(/storage key/);
    });
  });
}

describe("FileStorage specifics", () => {
  it("ignores and cleans up a temp file left by a crash mid-write", () => {
    const d = tmp();
    const s = new FileStorage(d);
    s.write("cfg", Uint8Array.of(1));
    writeFileSync(path.join(d, "cfg.tmp"), Uint8Array.of(9, 9)); // torn write that never got renamed
    const again = new FileStorage(d);
    expect([...again.read("cfg")!]).toEqual([1]);
    expect(again.keys("")).toEqual(["cfg"]);
    expect(readdirSync(d)).toEqual(["cfg"]);
  });
});
