import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../../../cloud/raft/storage/memory";
import { e, runStorageConformance } from "./conformance";

runStorageConformance({
  name: "MemoryStorage",
  newStorage: async () => new MemoryStorage({ confState: { voters: [1, 2, 3], learners: [] } }),
  restart: async (s) => (s as MemoryStorage).crash({ keepOps: 0, tornEntries: 0 }),
});

describe("MemoryStorage crash model", () => {
  it("loses unsynced writes on crash", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1)]);
    s.syncNow();
    s.append([e(3, 1)]);
    s.setHardState({ term: 1, vote: 1, commit: 3 });
    const after = s.crash();
    expect(after.lastIndex()).toBe(2);
    expect(after.initialState().hardState.term).toBe(0);
  });

  it("keeps a prefix of unsynced writes, the last one possibly torn", () => {
    const s = new MemoryStorage();
    s.append([e(1, 1)]);
    s.setHardState({ term: 1, vote: 1, commit: 0 });
    s.append([e(2, 1), e(3, 1), e(4, 1)]);
    const after = s.crash({ keepOps: 2, tornEntries: 2 });
    expect(after.lastIndex()).toBe(3);
    expect(after.initialState().hardState.term).toBe(1);
  });

  it("refuses writes after a crash", () => {
    const s = new MemoryStorage();
    s.crash();
    expect(() => s.append([e(1, 1)])).toThrow(/closed/);
  });
});

describe("MemoryStorage slow fsync", () => {
  it("sync() takes syncLatencyMs and a crash before it completes loses the writes", async () => {
    const s = new MemoryStorage({ syncLatencyMs: 20 });
    s.append([e(1, 1)]);
    const pending = s.sync();
    const after = s.crash();
    await expect(pending).rejects.toThrow(/crashed during sync/);
    expect(after.lastIndex()).toBe(0);
    const t = new MemoryStorage({ syncLatencyMs: 5 });
    t.append([e(1, 1)]);
    await t.sync();
    expect(t.crash().lastIndex()).toBe(1);
  });
});
