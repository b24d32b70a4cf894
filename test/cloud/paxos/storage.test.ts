// The acceptor stores: one conformance suite for the disk store and the
// simulator's memory store (what survives a reopen), then the disk store's
// own failure paths — torn tails cut at every byte, zero-filled and garbage
// tails, corruption in the middle, compaction into a snapshot, a damaged
// snapshot — and the memory store's power-loss model.
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileAcceptorStore, MemoryAcceptorStore, StoreError, encodeSlotRecord, type AcceptorStore } from "../../../cloud/paxos/storage";
import type { Slot } from "../../../cloud/paxos/types";

const enc = new TextEncoder();
const slot = (n: number, text: string | null, accepted = n): Slot => ({
  promise: { n, p: "p" },
  accepted: accepted === 0 ? { n: 0, p: "" } : { n: accepted, p: "p" },
  state: { version: accepted === 0 ? 0 : n, data: text === null ? null : enc.encode(text) },
});

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), "xsfleet-paxos-store-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const quiet = { warn: () => undefined };

interface Backend {
  readonly name: string;
  open(): AcceptorStore;
  /** After sync(): what a restarted acceptor loads. */
  reopen(s: AcceptorStore): Promise<AcceptorStore>;
}

const backends: Backend[] = [
  {
    name: "FileAcceptorStore",
    open: () => FileAcceptorStore.open(tempDir(), quiet),
    reopen: async (s) => {
      await s.close();
      return FileAcceptorStore.open((s as FileAcceptorStore).dir, quiet);
    },
  },
  {
    name: "MemoryAcceptorStore",
    open: () => new MemoryAcceptorStore(),
    reopen: async (s) => (s as MemoryAcceptorStore).crash({ keepBytes: 0 }),
  },
];

for (const be of backends) {
  describe(`acceptor store conformance: ${be.name}`, () => {
    it("starts empty and keeps the last synced slot of every key across a restart", async () => {
      let s = be.open();
      expect(s.loaded().size).toBe(0);
      s.put("a", slot(1, null, 0));
      s.put("a", slot(2, "two"));
      s.put("b", slot(5, "b"));
      s.put("ключ", slot(3, ""));
      await s.sync();
      s = await be.reopen(s);
      expect([...s.loaded()].sort()).toEqual([["a", slot(2, "two")], ["b", slot(5, "b")], ["ключ", slot(3, "")]].sort());
      s.put("a", slot(9, "nine"));
      await s.sync();
      s = await be.reopen(s);
      expect(s.loaded().get("a")).toEqual(slot(9, "nine"));
      await s.close();
    });

    it("shares one sync among concurrent callers", async () => {
      const s = be.open();
      for (let i = 0; i < 50; i++) s.put(`k${i}`, slot(i + 1, `v${i}`));
      await Promise.all([s.sync(), s.sync(), s.sync()]);
      const again = await be.reopen(s);
      expect(again.loaded().size).toBe(50);
      await again.close();
    });
  });
}

describe("FileAcceptorStore failure paths", () => {
  async function withLog(records: [string, Slot][]): Promise<{ dir: string; log: string; synced: number }> {
    const dir = tempDir();
    const s = FileAcceptorStore.open(dir, quiet);
    for (const [k, v] of records) s.put(k, v);
    await s.sync();
    await s.close();
    const log = path.join(dir, readdirSync(dir).find((f) => f.endsWith(".log"))!);
    return { dir, log, synced: readFileSync(log).byteLength };
  }

  it("drops a torn last batch wherever the crash cut it, and keeps everything before", async () => {
    const { dir, log, synced } = await withLog([["a", slot(1, "one")], ["b", slot(2, "two")]]);
    const torn = Buffer.concat([encodeSlotRecord("a", slot(3, "three")), encodeSlotRecord("c", slot(4, "four"))]);
    for (let cut = 1; cut < torn.byteLength; cut++) {
      truncateSync(log, synced);
      appendFileSync(log, torn.subarray(0, cut));
      const warnings: string[] = [];
      const s = FileAcceptorStore.open(dir, { warn: (m) => warnings.push(m) });
      const first = encodeSlotRecord("a", slot(3, "three")).byteLength;
      // A whole first record of the batch survives; the cut one is dropped.
      expect(s.loaded().get("a")).toEqual(cut >= first ? slot(3, "three") : slot(1, "one"));
      expect(s.loaded().has("c")).toBe(false);
      expect(s.loaded().get("b")).toEqual(slot(2, "two"));
      if (cut !== first) expect(warnings.join()).toMatch(/torn tail/);
      await s.close();
      expect(readFileSync(log).byteLength).toBe(cut >= first ? synced + first : synced);
    }
  });

  it("treats a zero-filled or garbage tail after a crash as torn", async () => {
    for (const tail of [new Uint8Array(4096), Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff)]) {
      const { dir, log, synced } = await withLog([["a", slot(1, "one")]]);
      appendFileSync(log, encodeSlotRecord("b", slot(2, "x")).subarray(0, 20));
      appendFileSync(log, tail);
      const s = FileAcceptorStore.open(dir, quiet);
      expect([...s.loaded().keys()]).toEqual(["a"]);
      expect(s.truncatedBytes).toBe(20 + tail.byteLength);
      expect(readFileSync(log).byteLength).toBe(synced);
      await s.close();
    }
  });

  it("refuses to open when a record in the middle is damaged (a later record is valid)", async () => {
    const { dir, log } = await withLog([["a", slot(1, "one")], ["b", slot(2, "two")], ["c", slot(3, "three")]]);
    const bytes = readFileSync(log);
    bytes[12]! ^= 0xff; // inside the first record
    writeFileSync(log, bytes);
    expect(() => FileAcceptorStore.open(dir, quiet)).toThrow(StoreError);
    expect(() => FileAcceptorStore.open(dir, quiet)).toThrow(/corrupt|crc/);
  });

  it("compacts into a snapshot, deletes covered logs, and reopens to the same slots", async () => {
    const dir = tempDir();
    let s = FileAcceptorStore.open(dir, { ...quiet, logBytesMax: 1024 });
    const want = new Map<string, Slot>();
    for (let i = 0; i < 300; i++) {
      const k = `key-${i % 37}`;
      const v = slot(i + 1, `value-${i}`);
      s.put(k, v);
      want.set(k, v);
      if (i % 7 === 0) await s.sync();
    }
    await s.sync();
    expect(s.snapshots).toBeGreaterThan(3);
    expect(readdirSync(dir).filter((f) => f.endsWith(".log"))).toHaveLength(1);
    await s.close();
    s = FileAcceptorStore.open(dir, quiet);
    expect(new Map(s.loaded())).toEqual(want);
    await s.close();
  });

  it("refuses a damaged snapshot, and a missing log between snapshot and the last log", async () => {
    const dir = tempDir();
    const s = FileAcceptorStore.open(dir, { ...quiet, logBytesMax: 1024 });
    for (let i = 0; i < 100; i++) {
      s.put(`k${i}`, slot(i + 1, "x".repeat(30)));
      await s.sync();
    }
    await s.close();
    const snap = path.join(dir, "paxos.snap");
    const good = readFileSync(snap);
    const bad = Buffer.from(good);
    bad[bad.byteLength - 3]! ^= 1;
    writeFileSync(snap, bad);
    expect(() => FileAcceptorStore.open(dir, quiet)).toThrow(/paxos.snap/);
    writeFileSync(snap, good);
    const reopened = FileAcceptorStore.open(dir, quiet);
    expect(reopened.loaded().size).toBe(100);
    const seq = reopened.logSeq;
    await reopened.close();
    writeFileSync(path.join(dir, `paxos-${(seq + 2).toString(16).padStart(16, "0")}.log`), new Uint8Array(0));
    expect(() => FileAcceptorStore.open(dir, quiet)).toThrow(/missing/);
  });

  it("validates its options", () => {
    expect(() => FileAcceptorStore.open(tempDir(), { logBytesMax: 10 })).toThrow(/logBytesMax/);
  });
});

describe("MemoryAcceptorStore power loss", () => {
  it("keeps synced slots, loses unsynced ones, and recovers a torn record cut at any byte", () => {
    const base = new MemoryAcceptorStore();
    base.put("a", slot(1, "one"));
    base.syncNow();
    base.put("a", slot(2, "two"));
    base.put("b", slot(3, "three"));
    const first = encodeSlotRecord("a", slot(2, "two")).byteLength;
    const total = first + encodeSlotRecord("b", slot(3, "three")).byteLength;
    for (let keep = 0; keep <= total; keep++) {
      // crash() closes the store, so rebuild the same state each time.
      const s = new MemoryAcceptorStore(new Map([["a", slot(1, "one")]]));
      s.put("a", slot(2, "two"));
      s.put("b", slot(3, "three"));
      const after = s.crash({ keepBytes: keep, garbage: keep % 2 ? new Uint8Array([0xde, 0xad]) : undefined });
      expect(after.loaded().get("a")).toEqual(keep >= first ? slot(2, "two") : slot(1, "one"));
      expect(after.loaded().has("b")).toBe(keep === total);
      expect(after.recoveredTornTail).toBe((keep !== 0 && keep !== first && keep !== total) || keep % 2 === 1);
    }
    base.crash();
    expect(() => base.put("x", slot(1, null))).toThrow(/closed/);
  });
});
