// SWIM node in isolation: messages in, messages out, no network. Named after
// the sections of the SWIM paper (Das et al., DSN 2002) and Lifeguard.

import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../../cloud/base";
import { BroadcastQueue } from "../../../../cloud/health/swim/broadcast-queue";
import { resolveSwimConfig, retransmitLimit, SWIM_LAN_DEFAULTS, suspicionTimeoutMs } from "../../../../cloud/health/swim/config";
import { Suspicion } from "../../../../cloud/health/swim/suspicion";
import { SwimNode } from "../../../../cloud/health/swim/swim-node";
import type { SwimConfig, SwimMessage } from "../../../../cloud/health/swim/types";

const PEERS = ["b", "c", "d", "e"];

function node(config: Partial<SwimConfig> = {}, seed = 1): SwimNode {
  return new SwimNode({ id: "a", random: seededRandom(seed), members: ["a", ...PEERS], config }, 0);
}

/** Tick every 10 ms up to `untilMs`, collecting what the node sends. */
function runTicks(n: SwimNode, fromMs: number, untilMs: number): SwimMessage[] {
  const out: SwimMessage[] = [];
  for (let t = fromMs; t <= untilMs; t += 10) {
    n.tick(t);
    out.push(...n.takeMessages());
  }
  return out;
}

describe("SWIM 3.1: failure detection", () => {
  it("answers a ping with an ack carrying the same sequence number", () => {
    const n = node();
    n.step({ type: "ping", from: "b", to: "a", seqNo: 42, updates: [] }, 5);
    expect(n.takeMessages()).toMatchObject([{ type: "ack", from: "a", to: "b", seqNo: 42 }]);
  });

  it("pings one member per period, then ping-reqs k members, then suspects", () => {
    const n = node({ gossipNodes: 0, pushPullIntervalMs: 0, reconnectIntervalMs: 0 });
    // The first period starts at a random offset below 1 s (staggering).
    const sent = runTicks(n, 0, 2000);
    const ping = sent.find((m) => m.type === "ping");
    expect(ping).toBeDefined();
    const { to: target, seqNo } = ping as { to: string; seqNo: number };
    const pingReqs = sent.filter((m) => m.type === "ping-req" && m.seqNo === seqNo);
    expect(pingReqs).toHaveLength(3);
    for (const r of pingReqs) expect(r).toMatchObject({ target });
    expect(new Set(pingReqs.map((r) => r.to)).has(target)).toBe(false);
    expect(n.memberState(target)).toBe("suspect");
    const suspicion = sent.flatMap((m) => m.updates).find((u) => u.state === "suspect" && u.node === target);
    expect(suspicion).toEqual({ state: "suspect", node: target, incarnation: 0, from: "a" });
  });

  it("an ack in time keeps the target alive; an indirect ack counts too", () => {
    const n = node({ gossipNodes: 0 });
    for (let t = 0; t <= 10_000; t += 10) {
      n.tick(t);
      for (const m of n.takeMessages()) {
        // Targets answer only through intermediaries: direct pings are lost.
        if (m.type === "ping-req") n.step({ type: "ack", from: m.target, to: "a", seqNo: m.seqNo, updates: [] }, t + 2);
      }
    }
    for (const p of PEERS) expect(n.memberState(p)).toBe("alive");
    n.takeMessages();
  });

  it("visits every member once per round in a shuffled order (SWIM 4.3)", () => {
    const n = node({ gossipNodes: 0 });
    const targets: string[] = [];
    for (let t = 0; t <= 8000; t += 10) {
      n.tick(t);
      for (const m of n.takeMessages()) {
        if (m.type === "ping") {
          targets.push(m.to);
          n.step({ type: "ack", from: m.to, to: "a", seqNo: m.seqNo, updates: [] }, t);
        }
      }
    }
    expect(targets.length).toBeGreaterThanOrEqual(8);
    expect(new Set(targets.slice(0, 4))).toEqual(new Set(PEERS));
    expect(new Set(targets.slice(4, 8))).toEqual(new Set(PEERS));
  });

  it("relays a ping-req: pings the target and forwards its ack, or nacks (Lifeguard)", () => {
    const n = node();
    n.step({ type: "ping-req", from: "b", to: "a", seqNo: 7, target: "c", updates: [] }, 100);
    const [ping] = n.takeMessages();
    expect(ping).toMatchObject({ type: "ping", to: "c" });
    n.step({ type: "ack", from: "c", to: "a", seqNo: (ping as { seqNo: number }).seqNo, updates: [] }, 150);
    expect(n.takeMessages()).toMatchObject([{ type: "ack", to: "b", seqNo: 7 }]);

    n.step({ type: "ping-req", from: "b", to: "a", seqNo: 8, target: "d", updates: [] }, 200);
    n.takeMessages();
    const sent = runTicks(n, 210, 700).filter((m) => m.type === "nack");
    expect(sent).toMatchObject([{ type: "nack", to: "b", seqNo: 8 }]);
  });
});

describe("Lifeguard: local health awareness", () => {
  it("failed probes without nacks raise awareness and stretch the probe period; direct acks lower it", () => {
    const n = node({ gossipNodes: 0, pushPullIntervalMs: 0, reconnectIntervalMs: 0, suspicionMult: 1000 });
    const pingTimes: number[] = [];
    for (let t = 0; t <= 60_000; t += 10) {
      n.tick(t);
      for (const m of n.takeMessages()) if (m.type === "ping") pingTimes.push(t);
    }
    // Nobody answers, no intermediary nacks: we are probably the sick one.
    expect(n.awareness).toBe(7);
    const gaps = pingTimes.slice(1).map((t, i) => t - (pingTimes[i] as number));
    expect(gaps[0]).toBeLessThan(2100);
    expect(gaps[gaps.length - 1]).toBe(8000); // probeInterval * (awareness + 1)
    // Healthy again: each direct ack in time lowers the score by one.
    for (let t = 60_010; t <= 200_000; t += 10) {
      n.tick(t);
      for (const m of n.takeMessages()) if (m.type === "ping") n.step({ type: "ack", from: m.to, to: "a", seqNo: m.seqNo, updates: [] }, t + 1);
    }
    expect(n.awareness).toBe(0);
  });

  it("nacks from intermediaries keep awareness flat: the target, not we, is unreachable", () => {
    const n = node({ gossipNodes: 0, pushPullIntervalMs: 0, reconnectIntervalMs: 0, suspicionMult: 1000 });
    let failedProbes = 0;
    for (let t = 0; t <= 20_000; t += 10) {
      n.tick(t);
      for (const m of n.takeMessages()) {
        if (m.type === "ping-req") n.step({ type: "nack", from: m.to, to: "a", seqNo: m.seqNo, updates: [] }, t + 1);
      }
      // Suspects refute at once, so intermediaries stay available.
      for (const member of n.members()) {
        if (member.state !== "suspect") continue;
        failedProbes++;
        const refutation = { state: "alive" as const, node: member.id, incarnation: member.incarnation + 1, from: member.id };
        n.step({ type: "gossip", from: member.id, to: "a", updates: [refutation] }, t + 1);
      }
    }
    expect(failedProbes).toBeGreaterThan(10);
    expect(n.awareness).toBe(0);
  });
});

describe("SWIM 4.2: suspicion, incarnations and refutation", () => {
  it("refutes a suspicion about itself by incrementing its incarnation", () => {
    const n = node();
    n.step({ type: "gossip", from: "b", to: "a", updates: [{ state: "suspect", node: "a", incarnation: 0, from: "b" }] }, 10);
    expect(n.incarnation).toBe(1);
    expect(n.stats.refutations).toBe(1);
    n.step({ type: "gossip", from: "b", to: "a", updates: [{ state: "dead", node: "a", incarnation: 5, from: "b" }] }, 20);
    expect(n.incarnation).toBe(6);
    const out = n.takeMessages();
    expect(out).toEqual([]); // nothing sent yet: the refutation rides on the next message
    n.step({ type: "ping", from: "c", to: "a", seqNo: 1, updates: [] }, 30);
    const [ack] = n.takeMessages();
    expect(ack?.updates).toContainEqual({ state: "alive", node: "a", incarnation: 6, from: "a" });
    // Lifeguard: refuting raises the local awareness score.
    expect(n.awareness).toBeGreaterThan(0);
  });

  it("applies the incarnation rules: alive overrides suspect only with a higher incarnation", () => {
    const n = node();
    const step = (u: SwimMessage["updates"][number], t: number): void => n.step({ type: "gossip", from: "c", to: "a", updates: [u] }, t);
    step({ state: "suspect", node: "b", incarnation: 0, from: "c" }, 10);
    expect(n.memberState("b")).toBe("suspect");
    step({ state: "alive", node: "b", incarnation: 0, from: "b" }, 20);
    expect(n.memberState("b")).toBe("suspect");
    step({ state: "alive", node: "b", incarnation: 1, from: "b" }, 30);
    expect(n.memberState("b")).toBe("alive");
    step({ state: "suspect", node: "b", incarnation: 0, from: "c" }, 40);
    expect(n.memberState("b")).toBe("alive"); // stale suspicion
    step({ state: "dead", node: "b", incarnation: 0, from: "c" }, 50);
    expect(n.memberState("b")).toBe("alive"); // stale death
    step({ state: "dead", node: "b", incarnation: 1, from: "c" }, 60);
    expect(n.memberState("b")).toBe("dead");
    step({ state: "suspect", node: "b", incarnation: 1, from: "c" }, 70);
    expect(n.memberState("b")).toBe("dead");
    step({ state: "alive", node: "b", incarnation: 2, from: "b" }, 80);
    expect(n.memberState("b")).toBe("alive"); // a refuted death
    expect(n.takeEvents().map((e) => `${e.node}:${e.state}:${e.incarnation}`)).toEqual([
      "b:suspect:0",
      "b:alive:1",
      "b:dead:1",
      "b:alive:2",
    ]);
  });

  it("declares a suspect dead after the suspicion timeout unless refuted", () => {
    const n = node({ gossipNodes: 0, pushPullIntervalMs: 0 });
    n.step({ type: "gossip", from: "c", to: "a", updates: [{ state: "suspect", node: "b", incarnation: 0, from: "c" }] }, 0);
    // n = 5: k = 4 - 2 = 2 confirmations expected; min = 4 * max(1, log10 5) s = 4 s, max = 24 s.
    for (let t = 0; t < 24_000; t += 10) {
      n.tick(t);
      n.takeMessages();
      if (t === 1000) n.step({ type: "gossip", from: "d", to: "a", updates: [{ state: "suspect", node: "b", incarnation: 0, from: "d" }] }, t);
      if (t === 2000) n.step({ type: "gossip", from: "e", to: "a", updates: [{ state: "suspect", node: "b", incarnation: 0, from: "e" }] }, t);
    }
    const dead = n.takeEvents().find((e) => e.node === "b" && e.state === "dead");
    // Two confirmations bring the timeout down to the 4 s minimum.
    expect(dead?.atMs).toBe(4000);
  });

  it("Lifeguard buddy system: a ping to a suspect carries the suspicion", () => {
    const n = node({ gossipNodes: 0 });
    for (const p of PEERS) {
      n.step({ type: "gossip", from: "x", to: "a", updates: [{ state: "suspect", node: p, incarnation: 0, from: "x" }] }, 0);
    }
    const ping = runTicks(n, 0, 1000).find((m) => m.type === "ping");
    expect(ping?.updates[0]).toEqual({ state: "suspect", node: ping?.to, incarnation: 0, from: "a" });
  });
});

describe("SWIM 4.1: dissemination", () => {
  it("retransmits each update retransmitMult * ceil(log10(n + 1)) times", () => {
    expect(retransmitLimit(4, 5)).toBe(4);
    expect(retransmitLimit(4, 32)).toBe(8);
    expect(retransmitLimit(4, 1000)).toBe(16);
    const q = new BroadcastQueue(10);
    q.enqueue({ state: "alive", node: "x", incarnation: 1, from: "x" });
    let carried = 0;
    for (let i = 0; i < 20; i++) carried += q.take(5, 4).length;
    expect(carried).toBe(4);
    expect(q.size).toBe(0);
  });

  it("replaces a queued update about the same node, sends fresh ones first, and bounds the queue", () => {
    const q = new BroadcastQueue(2);
    q.enqueue({ state: "suspect", node: "x", incarnation: 1, from: "y" });
    q.take(1, 10);
    q.enqueue({ state: "alive", node: "z", incarnation: 0, from: "z" });
    expect(q.take(1, 10)).toEqual([{ state: "alive", node: "z", incarnation: 0, from: "z" }]);
    q.enqueue({ state: "alive", node: "x", incarnation: 2, from: "x" });
    expect(q.size).toBe(2);
    expect(q.peek("x")?.state).toBe("alive");
    q.enqueue({ state: "alive", node: "w", incarnation: 0, from: "w" });
    expect(q.size).toBe(2);
    expect(q.dropped).toBe(1);
  });

  it("scales the suspicion timeout with log10(n) and shrinks it with confirmations", () => {
    expect(suspicionTimeoutMs(4, 5, 1000)).toBe(4000);
    expect(suspicionTimeoutMs(4, 100, 1000)).toBe(8000);
    const s = new Suspicion("b", 2, 4000, 24_000, 0);
    expect(s.timeoutMs()).toBe(24_000);
    expect(s.confirm("b")).toBe(false); // the accuser does not confirm itself
    expect(s.confirm("c")).toBe(true);
    expect(s.confirm("c")).toBe(false);
    expect(s.timeoutMs()).toBe(Math.floor(24_000 - (Math.log(2) / Math.log(3)) * 20_000));
    expect(s.confirm("d")).toBe(true);
    expect(s.timeoutMs()).toBe(4000);
    expect(s.confirm("e")).toBe(false);
    expect(new Suspicion("b", 0, 4000, 24_000, 0).timeoutMs()).toBe(4000);
  });
});

describe("join, leave and limits", () => {
  it("joins through a seed by push/pull and learns the seed's members", () => {
    const seed = node();
    const joiner = new SwimNode({ id: "z", random: seededRandom(2) }, 0);
    joiner.join(["a"], 0);
    const [push] = joiner.takeMessages();
    expect(push).toMatchObject({ type: "push-pull", to: "a", reply: false });
    seed.step(push as SwimMessage, 5);
    expect(seed.memberState("z")).toBe("alive");
    const [pull] = seed.takeMessages();
    joiner.step(pull as SwimMessage, 10);
    expect(joiner.members().map((m) => m.id).sort()).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("a leave is a dead update about itself, recorded as left", () => {
    const leaver = new SwimNode({ id: "b", random: seededRandom(3), members: ["a", "b"] }, 0);
    leaver.leave(0);
    leaver.step({ type: "ping", from: "a", to: "b", seqNo: 1, updates: [] }, 1);
    const [ack] = leaver.takeMessages();
    const n = node();
    n.step(ack as SwimMessage, 2);
    expect(n.memberState("b")).toBe("left");
    // A leaving node does not refute its own death.
    leaver.step({ type: "gossip", from: "a", to: "b", updates: [{ state: "dead", node: "b", incarnation: 0, from: "a" }] }, 3);
    expect(leaver.incarnation).toBe(0);
  });

  it("bounds members and counts rejections", () => {
    const n = new SwimNode({ id: "a", random: seededRandom(4), members: ["a", "b"], config: { membersMax: 2 } }, 0);
    const updates = ["c", "d", "e"].map((id) => ({ state: "alive" as const, node: id, incarnation: 0, from: id }));
    n.step({ type: "gossip", from: "b", to: "a", updates }, 0);
    expect(n.members()).toHaveLength(2);
    expect(n.stats.membersRejected).toBe(2);
  });

  it("ignores messages addressed to another node", () => {
    const n = node();
    n.step({ type: "ping", from: "b", to: "zz", seqNo: 1, updates: [] }, 0);
    expect(n.takeMessages()).toEqual([]);
    expect(n.stats.misdelivered).toBe(1);
  });

  it("validates its configuration", () => {
    expect(() => resolveSwimConfig({ probeTimeoutMs: 1000 })).toThrow(/probeTimeoutMs/);
    expect(() => resolveSwimConfig({ indirectChecks: -1 })).toThrow(/indirectChecks/);
    expect(resolveSwimConfig(undefined)).toEqual(SWIM_LAN_DEFAULTS);
    expect(() => node().tick(1.5)).toThrow(/integer/);
  });
});
