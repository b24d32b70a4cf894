import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WalStorage } from "../../../../cloud/raft/storage/wal";
import { e, runStorageConformance } from "./conformance";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "xsfleet-wal-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => path.join(root, `w${++n}`);
const warnings: string[] = [];
const opts = { confState: { voters: [1, 2, 3], learners: [] }, warn: (m: string) => warnings.push(m) };

runStorageConformance({
  name: "WalStorage",
  newStorage: async () => WalStorage.open(freshDir(), opts),
  restart: async (s) => {
    const w = s as WalStorage;
    await w.close();
    return WalStorage.open(w.dir, opts);
  },
});

function segments(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith("wal-")).sort().map((f) => path.join(dir, f));
}

async function filled(dir: string, count: number, segmentBytesMax = 1 << 20): Promise<WalStorage> {
  const w = await WalStorage.open(dir, { ...opts, segmentBytesMax });
  for (let i = 1; i <= count; i++) {
    w.append([e(i, 1, `payload-${i}`)]);
    w.setHardState({ term: 1, vote: 1, commit: i });
    await w.sync();
  }
  await w.close();
  return w;
}

describe("WalStorage on disk", () => {
  it("truncates a torn last record with a warning and keeps the prefix", async () => {
    const dir = freshDir();
    await filled(dir, 5);
    const [seg] = segments(dir);
    const size = fs.statSync(seg!).size;
    fs.truncateSync(seg!, size - 3);
    warnings.length = 0;
    const w = await WalStorage.open(dir, opts);
    expect(warnings.join("\n")).toMatch(/truncating torn tail/);
    // The last record was the hard state of entry 5: the entry itself survives.
    expect(w.lastIndex()).toBe(5);
    expect(w.initialState().hardState.commit).toBe(4);
    expect(fs.statSync(seg!).size).toBeLessThan(size - 3);
    // It is writable again and the repaired file reopens cleanly.
    w.append([e(6, 1)]);
    await w.sync();
    await w.close();
    warnings.length = 0;
    const again = await WalStorage.open(dir, opts);
    expect(warnings).toEqual([]);
    expect(again.lastIndex()).toBe(6);
    await again.close();
  });

  it("treats a flipped byte in the last record as a torn write", async () => {
    const dir = freshDir();
    await filled(dir, 3);
    const [seg] = segments(dir);
    const buf = fs.readFileSync(seg!);
    buf[buf.length - 2] ^= 0xff;
    fs.writeFileSync(seg!, buf);
    warnings.length = 0;
    const w = await WalStorage.open(dir, opts);
    expect(warnings.join("\n")).toMatch(/crc mismatch/);
    expect(w.lastIndex()).toBe(3);
    await w.close();
  });

  it("fails clearly on corruption in the middle of the log", async () => {
    const dir = freshDir();
    await filled(dir, 5);
    const [seg] = segments(dir);
    const buf = fs.readFileSync(seg!);
    buf[20] ^= 0x01; // inside the first record's payload
    fs.writeFileSync(seg!, buf);
    await expect(WalStorage.open(dir, opts)).rejects.toThrow(/crc mismatch at offset 0/);
  });

  it("fails clearly on corruption in an older segment, even at its end", async () => {
    const dir = freshDir();
    const w = await filled(dir, 40, 256);
    expect(w.segmentCount).toBeGreaterThan(2);
    const segs = segments(dir);
    fs.truncateSync(segs[0]!, fs.statSync(segs[0]!).size - 1);
    await expect(WalStorage.open(dir, opts)).rejects.toThrow(/not the last segment/);
  });

  it("rotates segments and deletes those covered by a snapshot", async () => {
    const dir = freshDir();
    await filled(dir, 40, 256);
    const w = await WalStorage.open(dir, { ...opts, segmentBytesMax: 256 });
    const before = segments(dir).length;
    w.createSnapshot(35, { voters: [1, 2, 3], learners: [] }, new TextEncoder().encode("sm"));
    expect(segments(dir).length).toBeLessThan(before);
    await w.close();
    const again = await WalStorage.open(dir, opts);
    expect(again.firstIndex()).toBe(36);
    expect(again.lastIndex()).toBe(40);
    expect(again.initialState().hardState.commit).toBe(40);
    await again.close();
  });

  it("fails clearly on a corrupt snapshot file", async () => {
    const dir = freshDir();
    const w = await filled(dir, 5);
    const w2 = await WalStorage.open(dir, opts);
    w2.createSnapshot(3, { voters: [1, 2, 3], learners: [] }, new TextEncoder().encode("state"));
    await w2.close();
    const snap = fs.readdirSync(dir).find((f) => f.endsWith(".snap"))!;
    const buf = fs.readFileSync(path.join(dir, snap));
    buf[buf.length - 1] ^= 0x10;
    fs.writeFileSync(path.join(dir, snap), buf);
    await expect(WalStorage.open(dir, opts)).rejects.toThrow(/snapshot .*crc mismatch/);
    void w;
  });

  it("ignores a leftover temporary snapshot from a crash mid-write", async () => {
    const dir = freshDir();
    await filled(dir, 3);
    fs.writeFileSync(path.join(dir, "snap-0000000000000002.snap.tmp"), "half");
    const w = await WalStorage.open(dir, opts);
    expect(w.snapshot().metadata.index).toBe(0);
    expect(fs.readdirSync(dir).some((f) => f.endsWith(".tmp"))).toBe(false);
    await w.close();
  });

  it("group commit: many concurrent syncs share few fsyncs", async () => {
    const w = await WalStorage.open(freshDir(), opts);
    const waits: Promise<void>[] = [];
    for (let i = 1; i <= 200; i++) {
      w.append([e(i, 1)]);
      waits.push(w.sync());
    }
    await Promise.all(waits);
    expect(w.fsyncCount).toBeLessThanOrEqual(3);
    await w.close();
  });

  it("a write after close is a clear error", async () => {
    const w = await WalStorage.open(freshDir(), opts);
    await w.close();
    expect(() => w.append([e(1, 1)])).toThrow(/closed/);
  });
});
