// ConfigRegister (a leaderless config register) and PaxosClient over
// in-process acceptors: compare-and-set on the version, concurrent updates
// from several proposers apply exactly once each, validation, and failures
// as typed errors.
import { describe, expect, it } from "vitest";
import { PaxosClient } from "../../../cloud/paxos/client";
import { ConfigRegister, RegisterUnavailableError } from "../../../cloud/paxos/register";
import { LocalAcceptors } from "./local-acceptors";

interface Rollout { readonly wave: number; readonly halted: boolean }
const parseRollout = (v: unknown): Rollout => {
  const r = v as Partial<Rollout>;
  if (typeof r !== "object" || r === null || !Number.isInteger(r.wave) || typeof r.halted !== "boolean") throw new TypeError(`not a rollout: ${JSON.stringify(v)}`);
  return { wave: r.wave!, halted: r.halted! };
};

describe("ConfigRegister", () => {
  it("reads null until written, then sets by compare-and-set on the version", async () => {
    const acc = new LocalAcceptors();
    const c = new PaxosClient(acc.transport(), { acceptors: acc.ids });
    const reg = new ConfigRegister(c, "config/rollout", parseRollout);
    expect(await reg.get()).toBeNull();
    expect(await reg.set({ wave: 1, halted: false }, 0)).toEqual({ ok: true, version: 1 });
    expect(await reg.set({ wave: 9, halted: false }, 0)).toEqual({ ok: false, current: { version: 1, value: { wave: 1, halted: false } } });
    expect(await reg.set({ wave: 2, halted: false }, 1)).toEqual({ ok: true, version: 2 });
    expect(await reg.get()).toEqual({ version: 2, value: { wave: 2, halted: false } });
    await expect(reg.set({ wave: "x" } as unknown as Rollout, 2)).rejects.toThrow(/not a rollout/);
    await c.close();
  });

  it("applies concurrent updates from several proposers exactly once each", async () => {
    const acc = new LocalAcceptors();
    const clients = Array.from({ length: 4 }, () => new PaxosClient(acc.transport(), { acceptors: acc.ids }));
    const regs = clients.map((c) => new ConfigRegister(c, "config/counter", parseRollout));
    await Promise.all(regs.flatMap((r) => Array.from({ length: 5 }, () => r.update((cur) => ({ wave: (cur?.wave ?? 0) + 1, halted: false })))));
    expect(await regs[0]!.get()).toEqual({ version: 20, value: { wave: 20, halted: false } });
    await Promise.all(clients.map((c) => c.close()));
  });

  it("throws RegisterUnavailableError without a majority, and a closed client rejects", async () => {
    const acc = new LocalAcceptors();
    const c = new PaxosClient(acc.transport(), { acceptors: acc.ids, attemptTimeoutMs: 20, attemptsMax: 2 });
    const reg = new ConfigRegister(c, "config/x", parseRollout);
    acc.crash(1);
    acc.crash(2);
    const err = await reg.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegisterUnavailableError);
    expect((err as RegisterUnavailableError).outcome).toMatchObject({ error: "unavailable", applied: "no" });
    await c.close();
    await expect(reg.get()).rejects.toThrow(/closed/);
  });
});
