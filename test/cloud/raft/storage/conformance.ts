// One conformance suite for every RaftStorage implementation (Hono style):
// call runStorageConformance({ name, newStorage, restart }) from a test file.

import { describe, expect, it } from "vitest";
import type { RaftStorage } from "../../../../cloud/raft/storage/types";
import { EntryType } from "../../../../cloud/raft/types";
import type { Entry } from "../../../../cloud/raft/types";

export interface StorageFactory {
  readonly name: string;
  /** A fresh, empty storage with membership {voters: [1, 2, 3]}. */
  newStorage(): Promise<RaftStorage>;
  /** The storage a restarted process sees (after the caller synced). */
  restart(s: RaftStorage): Promise<RaftStorage>;
}

const enc = new TextEncoder();
export function e(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, type: EntryType.Normal, data: enc.encode(data) };
}
const range = (lo: number, hi: number, term: number): Entry[] =>
  Array.from({ length: hi - lo + 1 }, (_, i) => e(lo + i, term));
const summary = (ents: Entry[]): string => ents.map((x) => `${x.index}:${x.term}`).join(",");

export function runStorageConformance(f: StorageFactory): void {
  describe(`RaftStorage conformance: ${f.name}`, () => {
    it("starts empty with the initial membership", async () => {
      const s = await f.newStorage();
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(0);
      expect(s.term(0)).toBe(0);
      expect(s.term(1)).toBeUndefined();
      expect(s.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
      expect(s.initialState().confState.voters).toEqual([1, 2, 3]);
      await s.close();
    });

    it("appends entries and reads them back by range, term and byte limit", async () => {
      const s = await f.newStorage();
      s.append(range(1, 5, 1));
      expect(s.lastIndex()).toBe(5);
      expect(s.term(3)).toBe(1);
      expect(summary(s.entries(2, 5, Number.MAX_SAFE_INTEGER))).toBe("2:1,3:1,4:1");
      // byte limit: always at least one entry
      expect(s.entries(1, 6, 0)).toHaveLength(1);
      expect(() => s.entries(4, 8, 100)).toThrow(/beyond last/);
      await s.close();
    });

    it("an append replaces the existing suffix from its first index", async () => {
      const s = await f.newStorage();
      s.append(range(1, 5, 1));
      s.append([e(3, 2), e(4, 2)]);
      expect(s.lastIndex()).toBe(4);
      expect(summary(s.entries(1, 5, 1 << 20))).toBe("1:1,2:1,3:2,4:2");
      expect(() => s.append([e(7, 2)])).toThrow(/gap/);
      await s.close();
    });

    it("persists entries and hard state across restart after sync", async () => {
      let s = await f.newStorage();
      s.append(range(1, 3, 1));
      s.setHardState({ term: 2, vote: 3, commit: 2 });
      s.append([e(3, 2), e(4, 2)]);
      await s.sync();
      s = await f.restart(s);
      expect(summary(s.entries(1, 5, 1 << 20))).toBe("1:1,2:1,3:2,4:2");
      expect(new TextDecoder().decode(s.entries(4, 5, 1 << 20)[0]!.data)).toBe("e4");
      expect(s.initialState().hardState).toEqual({ term: 2, vote: 3, commit: 2 });
      await s.close();
    });

    it("createSnapshot compacts the log; the snapshot and remaining entries survive restart", async () => {
      let s = await f.newStorage();
      s.append(range(1, 10, 1));
      s.setHardState({ term: 1, vote: 1, commit: 10 });
      await s.sync();
      const snap = s.createSnapshot(6, { voters: [1, 2, 3, 4], learners: [5] }, enc.encode("sm@6"));
      expect(snap.metadata).toEqual({ index: 6, term: 1, confState: { voters: [1, 2, 3, 4], learners: [5] } });
      expect(s.firstIndex()).toBe(7);
      expect(s.term(6)).toBe(1);
      expect(s.term(5)).toBeUndefined();
      expect(() => s.entries(5, 8, 1 << 20)).toThrow(/compacted/);
      s.append([e(11, 2)]);
      await s.sync();
      s = await f.restart(s);
      expect(s.firstIndex()).toBe(7);
      expect(s.lastIndex()).toBe(11);
      expect(new TextDecoder().decode(s.snapshot().data)).toBe("sm@6");
      expect(s.initialState().confState).toEqual({ voters: [1, 2, 3, 4], learners: [5] });
      expect(() => s.createSnapshot(5, { voters: [1], learners: [] }, new Uint8Array())).toThrow(/not newer/);
      await s.close();
    });

    it("applySnapshot replaces the whole log, also across restart", async () => {
      let s = await f.newStorage();
      s.append(range(1, 4, 1));
      await s.sync();
      s.applySnapshot({ metadata: { index: 20, term: 3, confState: { voters: [1, 2], learners: [] } }, data: enc.encode("snap20") });
      expect(s.firstIndex()).toBe(21);
      expect(s.lastIndex()).toBe(20);
      expect(s.term(20)).toBe(3);
      s.append([e(21, 3)]);
      s.setHardState({ term: 3, vote: 0, commit: 20 });
      await s.sync();
      s = await f.restart(s);
      expect(s.firstIndex()).toBe(21);
      expect(s.lastIndex()).toBe(21);
      expect(s.snapshot().metadata.index).toBe(20);
      expect(new TextDecoder().decode(s.snapshot().data)).toBe("snap20");
      expect(s.initialState().confState.voters).toEqual([1, 2]);
      await s.close();
    });

    it("appends of already-compacted entries are ignored", async () => {
      const s = await f.newStorage();
      s.append(range(1, 5, 1));
      s.createSnapshot(4, { voters: [1, 2, 3], learners: [] }, new Uint8Array());
      s.append(range(2, 6, 1));
      expect(s.firstIndex()).toBe(5);
      expect(summary(s.entries(5, 7, 1 << 20))).toBe("5:1,6:1");
      await s.close();
    });

    it("concurrent syncs all resolve and everything is durable", async () => {
      let s = await f.newStorage();
      const waits: Promise<void>[] = [];
      for (let i = 1; i <= 50; i++) {
        s.append([e(i, 1)]);
        waits.push(s.sync());
      }
      await Promise.all(waits);
      s = await f.restart(s);
      expect(s.lastIndex()).toBe(50);
      await s.close();
    });
  });
}
