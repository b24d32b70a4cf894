// The CASPaxos core against the rules of the paper (Rystsov 2018,
// "CASPaxos: Replicated State Machines without logs"), section by section,
// on a hand-driven network (harness.ts).
import { describe, expect, it } from "vitest";
import { Acceptor } from "../../../cloud/paxos/acceptor";
import type { Change } from "../../../cloud/paxos/proposer";
import { MsgKind, PAXOS_LIMITS, type Ballot, type RegisterState } from "../../../cloud/paxos/types";
import { Net, appendText, readText, setText } from "./harness";

const enc = new TextEncoder();
const b = (n: number, p = "p"): Ballot => ({ n, p });
const st = (version: number, text: string | null): RegisterState => ({ version, data: text === null ? null : enc.encode(text) });

describe("§2.1 acceptor: prepare", () => {
  it("promises a ballot above its promise and reports what it accepted; refuses one not above (a duplicate too)", () => {
    const a = new Acceptor(1);
    const first = a.handle({ kind: MsgKind.Prepare, rid: 1, key: "k", ballot: b(1) });
    expect(first.reply).toMatchObject({ kind: MsgKind.Promise, accepted: { n: 0, p: "" }, state: { version: 0, data: null } });
    expect(first.write?.slot.promise).toEqual(b(1));
    expect(a.handle({ kind: MsgKind.Prepare, rid: 2, key: "k", ballot: b(1) }).reply).toMatchObject({ kind: MsgKind.Conflict, seen: b(1) });
    expect(a.handle({ kind: MsgKind.Prepare, rid: 3, key: "k", ballot: b(1, "a") }).reply).toMatchObject({ kind: MsgKind.Conflict });
    // Same counter, higher proposer id: higher ballot.
    expect(a.handle({ kind: MsgKind.Prepare, rid: 4, key: "k", ballot: b(1, "q") }).reply.kind).toBe(MsgKind.Promise);
    a.handle({ kind: MsgKind.Accept, rid: 5, key: "k", ballot: b(1, "q"), state: st(1, "x"), next: null });
    expect(a.handle({ kind: MsgKind.Prepare, rid: 6, key: "k", ballot: b(2) }).reply).toMatchObject({ kind: MsgKind.Promise, accepted: b(1, "q"), state: st(1, "x") });
  });
});

describe("§2.1 acceptor: accept", () => {
  it("takes a ballot at or above its promise, refuses one below; a duplicate accept changes nothing", () => {
    const a = new Acceptor(1);
    a.handle({ kind: MsgKind.Prepare, rid: 1, key: "k", ballot: b(5) });
    expect(a.handle({ kind: MsgKind.Accept, rid: 2, key: "k", ballot: b(4), state: st(1, "low"), next: null }).reply).toMatchObject({ kind: MsgKind.Conflict, seen: b(5) });
    const ok = a.handle({ kind: MsgKind.Accept, rid: 3, key: "k", ballot: b(5), state: st(1, "x"), next: null });
    expect(ok.reply.kind).toBe(MsgKind.Accepted);
    expect(ok.write?.slot).toEqual({ promise: b(5), accepted: b(5), state: st(1, "x") });
    expect(a.handle({ kind: MsgKind.Accept, rid: 3, key: "k", ballot: b(5), state: st(1, "x"), next: null }).write).toBeNull();
    // An accept above the promise needs no prepare (it implies the promise).
    expect(a.handle({ kind: MsgKind.Accept, rid: 4, key: "k", ballot: b(9), state: st(2, "y"), next: null }).write?.slot.promise).toEqual(b(9));
  });

  it("§2.2.1: an accept carrying `next` also promises it, so a prepare below `next` conflicts", () => {
    const a = new Acceptor(1);
    const h = a.handle({ kind: MsgKind.Accept, rid: 1, key: "k", ballot: b(3), state: st(1, "x"), next: b(4) });
    expect(h.write?.slot).toEqual({ promise: b(4), accepted: b(3), state: st(1, "x") });
    expect(a.handle({ kind: MsgKind.Prepare, rid: 2, key: "k", ballot: b(3, "z") }).reply.kind).toBe(MsgKind.Conflict);
    expect(a.handle({ kind: MsgKind.Accept, rid: 3, key: "k", ballot: b(4), state: st(2, "y"), next: b(5) }).reply.kind).toBe(MsgKind.Accepted);
  });

  it("refuses malformed ballots, oversized values and new keys beyond keysMax, storing nothing", () => {
    const a = new Acceptor(1, [], { keysMax: 1 });
    expect(a.handle({ kind: MsgKind.Prepare, rid: 1, key: "k", ballot: b(0) }).reply.kind).toBe(MsgKind.Refused);
    expect(a.handle({ kind: MsgKind.Prepare, rid: 1, key: "k", ballot: { n: 1, p: "" } }).reply.kind).toBe(MsgKind.Refused);
    expect(a.handle({ kind: MsgKind.Prepare, rid: 1, key: "", ballot: b(1) }).reply.kind).toBe(MsgKind.Refused);
    const big = { version: 1, data: new Uint8Array(PAXOS_LIMITS.valueBytesMax + 1) };
    expect(a.handle({ kind: MsgKind.Accept, rid: 1, key: "k", ballot: b(1), state: big, next: null }).reply.kind).toBe(MsgKind.Refused);
    expect(a.handle({ kind: MsgKind.Accept, rid: 1, key: "k", ballot: b(2), state: st(1, "x"), next: b(2) }).reply.kind).toBe(MsgKind.Refused);
    expect(a.size).toBe(0);
    expect(a.handle({ kind: MsgKind.Prepare, rid: 2, key: "k", ballot: b(1) }).reply.kind).toBe(MsgKind.Promise);
    const full = a.handle({ kind: MsgKind.Prepare, rid: 3, key: "k2", ballot: b(1) });
    expect(full.reply).toMatchObject({ kind: MsgKind.Refused, reason: expect.stringContaining("keysMax") });
    expect(full.write).toBeNull();
    expect(a.stats.refused).toBe(6);
  });
});

describe("§2.2 proposer: change functions over a quorum", () => {
  it("runs the change on the state accepted at the highest ballot among a quorum of promises", () => {
    const net = new Net([1, 2, 3]);
    // Acceptor 1 accepted an old state, acceptor 2 a newer one, acceptor 3 nothing.
    net.acceptors.get(1)!.handle({ kind: MsgKind.Accept, rid: 1, key: "k", ballot: b(1, "old"), state: st(1, "old"), next: null });
    net.acceptors.get(2)!.handle({ kind: MsgKind.Accept, rid: 1, key: "k", ballot: b(2, "new"), state: st(2, "new"), next: null });
    const p = net.proposer("p1", { oneRoundTrip: false });
    net.down.add(3); // the quorum must be {1, 2}
    // The first attempt (ballot 1.p1) conflicts with acceptor 2's 2.new; the
    // retry prepares above it, and of the two promises the newer state wins.
    expect(net.settle(p, net.submit(p, "k", appendText("+")))).toMatchObject({ ok: true, result: "new+", state: { version: 3 }, attempts: 2 });
  });

  it("a read writes the state back unchanged: the version stays and a minority's value becomes chosen", () => {
    const net = new Net([1, 2, 3]);
    net.acceptors.get(1)!.handle({ kind: MsgKind.Accept, rid: 1, key: "k", ballot: b(1, "w"), state: st(1, "minority"), next: null });
    const p = net.proposer("reader", { oneRoundTrip: false });
    net.down.add(3); // the quorum is {1, 2}: it must see acceptor 1's value
    expect(net.settle(p, net.submit(p, "k", readText))).toMatchObject({ ok: true, result: "minority", state: { version: 1 } });
    expect(net.acceptors.get(2)!.slot("k")?.state).toEqual(st(1, "minority"));
  });

  it("counts writes in the version (a fencing token) and leaves it on reads", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p");
    const versions: number[] = [];
    for (const change of [setText("a"), readText, setText("b"), readText, setText("b")] as Change<unknown>[]) {
      const o = net.settle(p, net.submit(p, "k", change));
      if (!o.ok) throw new Error(o.message);
      versions.push(o.state.version);
    }
    expect(versions).toEqual([1, 1, 2, 2, 3]);
  });

  it("needs a quorum of distinct acceptors: duplicated replies do not count twice", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p", { oneRoundTrip: false });
    const op = net.submit(p, "k", setText("x"));
    net.deliver(0); // prepare → 1
    const promise = net.queue.find((m) => m.dir === "reply")!;
    net.queue.push(promise, promise); // the network duplicates the promise
    while (net.queue.some((m) => m.dir === "reply")) net.deliver(net.queue.findIndex((m) => m.dir === "reply"));
    expect(net.queue.every((m) => m.msg.kind === MsgKind.Prepare)).toBe(true); // still preparing
    expect(net.outcome(p, op)).toBeUndefined();
    net.run();
    expect(net.outcome(p, op)).toMatchObject({ ok: true });
  });
});

describe("§2.2.1 one-round-trip optimization", () => {
  it("the next change on a key sends accepts only, until another proposer intervenes; then it prepares again and reads that write", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p");
    const q = net.proposer("q");
    net.settle(p, net.submit(p, "k", setText("1")));
    const op2 = net.submit(p, "k", appendText("2"));
    expect(net.queue.map((m) => m.msg.kind)).toEqual([MsgKind.Accept, MsgKind.Accept, MsgKind.Accept]);
    expect(net.settle(p, op2)).toMatchObject({ ok: true, result: "12" });
    expect(p.stats.oneRoundTrips).toBe(1);
    // q writes in between: p's cached promise is stale.
    expect(net.settle(q, net.submit(q, "k", appendText("q")))).toMatchObject({ ok: true, result: "12q" });
    const op3 = net.submit(p, "k", appendText("3"));
    expect(net.queue[0]!.msg.kind).toBe(MsgKind.Accept);
    expect(net.settle(p, op3)).toMatchObject({ ok: true, result: "12q3", attempts: 2 });
    expect(p.stats.oneRoundTrips).toBe(1);
  });

  it("without it every change prepares", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p", { oneRoundTrip: false });
    net.settle(p, net.submit(p, "k", setText("1")));
    net.submit(p, "k", setText("2"));
    expect(net.queue.map((m) => m.msg.kind)).toEqual([MsgKind.Prepare, MsgKind.Prepare, MsgKind.Prepare]);
  });
});

describe("proposer conflicts, timeouts and limits", () => {
  it("duelling proposers conflict, back off with jitter, and both changes apply exactly once", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p", { oneRoundTrip: false });
    const q = net.proposer("q", { oneRoundTrip: false });
    const op1 = net.submit(p, "k", appendText("p"));
    const op2 = net.submit(q, "k", appendText("q"));
    // Interleave their messages so prepares cross.
    for (let i = 0; i < 1000 && (!net.outcome(p, op1) || !net.outcome(q, op2)); i++) {
      if (net.queue.length > 0) net.deliver(net.queue.length > 1 ? 1 : 0);
      else {
        net.tick(p);
        net.tick(q);
      }
    }
    const a = net.outcome(p, op1);
    const c = net.outcome(q, op2);
    expect(a?.ok && c?.ok).toBe(true);
    const final = net.settle(p, net.submit(p, "k", readText));
    expect(["pq", "qp"]).toContain(final.ok ? final.result : "");
    expect(p.stats.conflicts + q.stats.conflicts).toBeGreaterThan(0);
  });

  it("fails as unavailable without a majority: applied 'no' if no accept left, 'unknown' if one did", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p", { oneRoundTrip: false, limits: { attemptsMax: 3, attemptTimeoutTicks: 2, backoffMaxTicks: 2 } });
    net.down.add(2);
    net.down.add(3);
    expect(net.settle(p, net.submit(p, "k", setText("x")))).toMatchObject({ ok: false, error: "unavailable", applied: "no", attempts: 3 });
    // Promises from a majority, then the accepts get lost.
    net.down.clear();
    const op = net.submit(p, "k", setText("y"));
    for (let i = 0; i < 6; i++) net.deliver(0); // 3 prepares + 3 promises
    expect(net.queue.every((m) => m.msg.kind === MsgKind.Accept)).toBe(true);
    net.down.add(2);
    net.down.add(3);
    expect(net.settle(p, op)).toMatchObject({ ok: false, error: "unavailable", applied: "unknown" });
    // Acceptor 1 holds "y" at a minority: the next reader chooses it.
    net.down.clear();
    expect(net.settle(p, net.submit(p, "k", readText))).toMatchObject({ ok: true, result: "y" });
  });

  it("runs changes on one key in order, on different keys at once", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p");
    const ops = [net.submit(p, "a", appendText("1")), net.submit(p, "a", appendText("2")), net.submit(p, "b", appendText("x"))];
    expect(new Set(net.queue.map((m) => m.msg.key))).toEqual(new Set(["a", "b"]));
    net.run();
    expect(ops.map((o) => net.outcome(p, o))).toMatchObject([{ result: "1" }, { result: "12" }, { result: "x" }]);
  });

  it("refuses bad input with typed outcomes: invalid key, throwing change, oversized value, too many operations", () => {
    const net = new Net([1, 2, 3]);
    const p = net.proposer("p", { limits: { opsMax: 2 } });
    expect(net.outcome(p, net.submit(p, "", readText))).toMatchObject({ ok: false, error: "refused", applied: "no" });
    expect(net.settle(p, net.submit(p, "k", () => { throw new Error("boom"); }))).toMatchObject({ ok: false, error: "change-failed", message: expect.stringContaining("boom") });
    const huge = new Uint8Array(PAXOS_LIMITS.valueBytesMax + 1);
    expect(net.settle(p, net.submit(p, "k", () => ({ write: true, data: huge, result: 0 })))).toMatchObject({ ok: false, error: "refused" });
    net.submit(p, "k", readText);
    net.submit(p, "k", readText);
    expect(net.outcome(p, net.submit(p, "k", readText))).toMatchObject({ ok: false, error: "overloaded" });
    expect(p.pending).toBe(2);
  });

  it("stops at once when acceptors refuse (keysMax)", () => {
    const net = new Net([]);
    for (const id of [1, 2, 3]) net.acceptors.set(id, new Acceptor(id, [], { keysMax: 1 }));
    const p = net.proposer("p");
    expect(net.settle(p, net.submit(p, "one", setText("x")))).toMatchObject({ ok: true });
    expect(net.settle(p, net.submit(p, "two", setText("x")))).toMatchObject({ ok: false, error: "refused", attempts: 1, message: expect.stringContaining("keysMax") });
  });

  it("validates its configuration", () => {
    const net = new Net([1, 2, 3]);
    expect(() => net.proposer("")).toThrow(/proposer id/);
    expect(() => net.proposer("p", { acceptors: [1, 1] })).toThrow(/duplicate/);
    expect(() => net.proposer("p", { limits: { attemptsMax: 0 } })).toThrow(/attemptsMax/);
    expect(() => new Acceptor(0)).toThrow(/acceptor id/);
  });
});
