// Membership over a real nats-server: heartbeats + SWIM between drivers with
// their own connections; a crashed member (connection dropped, no leave) is
// detected down by every peer, a leaving member at once; the operator API
// answers members and history; garbage on the subjects is counted, not
// fatal. Detection times are printed, not asserted.

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../harness/wait";
import { ClusterApi } from "../../../cloud/membership/api";
import { MembershipDriver, type MemberStatusEvent } from "../../../cloud/membership/driver";
import { ClusterApiSubject, heartbeatSubject, swimSubject } from "../../../cloud/subjects";
import type { HistoryEntry, MemberView } from "../../../cloud/membership/types";
import { startNats, type NatsCluster } from "../../harness/nats";
import { Registry } from "prom-client";
import { registerMembershipMetrics } from "../../../cloud/membership";

let nats: NatsCluster;
let client: NatsConnection;
// By node id: nodes start concurrently, so arrival order means nothing.
const conns = new Map<string, NatsConnection>();
const drivers: MembershipDriver[] = [];
const events = new Map<string, MemberStatusEvent[]>();
const enc = new TextEncoder();

beforeAll(async () => {
  nats = await startNats();
  client = await connect({ servers: nats.servers });
});

afterAll(async () => {
  for (const d of drivers) await d.stop();
  for (const c of conns.values()) if (!c.isClosed()) await c.close();
  await client.close();
  await nats.stop();
});

async function node(nodeId: string): Promise<MembershipDriver> {
  const nc = await connect({ servers: nats.servers, name: nodeId });
  conns.set(nodeId, nc);
  const d = new MembershipDriver({ nc, nodeId, heartbeatIntervalMs: 100 });
  const seen: MemberStatusEvent[] = [];
  d.onStatus((e) => seen.push(e));
  events.set(nodeId, seen);
  drivers.push(d);
  d.start();
  return d;
}

async function api<T>(subject: string, body: unknown = {}): Promise<T> {
  const r = await client.request(subject, enc.encode(JSON.stringify(body)), { timeout: 5000 });
  return JSON.parse(new TextDecoder().decode(r.data)) as T;
}

describe("membership over NATS", () => {
  let n1: MembershipDriver;
  let n2: MembershipDriver;
  let n3: MembershipDriver;
  // m1's Prometheus view, registered from the start so it sees every probe and verdict.
  const registry = new Registry();
  const sample = async (series: string): Promise<number | undefined> => {
    const text = await registry.metrics();
    const line = text.split("\n").find((l) => l.startsWith(series + " "));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it("members discover each other through heartbeats and SWIM", async () => {
    [n1, n2, n3] = await Promise.all([node("m1"), node("m2"), node("m3")]);
    registerMembershipMetrics(registry, n1);
    new ClusterApi({ nc: conns.get("m1")!, membership: n1, history: n1.history }).start();
    for (const d of [n1, n2, n3]) {
      await waitFor(`${d.nodeId} to see all up`, () => d.members().filter((m) => m.status === "up" && m.swim === "alive").length === 3);
    }
    const r = await api<{ observer: string; members: MemberView[] }>(ClusterApiSubject.Members);
    expect(r.observer).toBe("m1");
    expect(r.members.map((m) => [m.nodeId, m.status])).toEqual([["m1", "up"], ["m2", "up"], ["m3", "up"]]);
    expect(r.members[1]!.resources?.cpus).toBeGreaterThan(0);
  });

  it("counts garbage on membership subjects without failing", async () => {
    client.publish(heartbeatSubject("m9"), enc.encode("{not json"));
    client.publish(swimSubject("m1"), enc.encode(JSON.stringify({ type: "ping", from: "x y", to: "m1", updates: [], seqNo: 1 })));
    await client.flush();
    await waitFor("decode errors to be counted", () => n1.stats.decodeErrors >= 2);
    expect(n1.members().map((m) => m.nodeId)).toEqual(["m1", "m2", "m3"]);
  });

  it("detects a crashed member (connection gone, no leave) on every peer", async () => {
    const crashedAtMs = Date.now();
    // Only verdicts after the crash count (a loaded machine may cause an earlier false suspicion).
    const seen = new Map(["m1", "m2"].map((o) => [o, events.get(o)!.length]));
    await conns.get("m3")!.close();
    const downs = await Promise.all(["m1", "m2"].map((o) =>
      waitFor(`${o} to see m3 down`, () => events.get(o)!.slice(seen.get(o)).find((e) => e.nodeId === "m3" && e.status === "down"))));
    const swimDead = await waitFor("SWIM on m1 to declare m3 dead", () => (n1.member("m3")?.swim === "dead" ? Date.now() : undefined));
    for (const d of downs) expect(d.detectionMs).toBeGreaterThan(0);
    const history = await api<{ entries: HistoryEntry[] }>(ClusterApiSubject.History, { kind: "detection" });
    expect(history.entries.some((e) => e.subject === "m3" && e.action === "down")).toBe(true);
    console.log(`[membership] crash of m3 (hb 100 ms): down on m1 after ${downs[0]!.atMs - crashedAtMs} ms (${downs[0]!.cause}), ` +
      `on m2 after ${downs[1]!.atMs - crashedAtMs} ms (${downs[1]!.cause}); SWIM dead on m1 after ${swimDead - crashedAtMs} ms`);
  });

  it("takes a restarted member back (new incarnation refutes its death)", async () => {
    const rejoinAtMs = Date.now();
    const seen = events.get("m1")!.length;
    const m3 = await node("m3");
    const up = await waitFor("m1 to see m3 up again", () => events.get("m1")!.slice(seen).find((e) => e.nodeId === "m3" && e.status === "up"));
    await waitFor("SWIM on m1 to hold m3 alive", () => n1.member("m3")?.swim === "alive" && m3.member("m1")?.status === "up");
    console.log(`[membership] restarted m3 up again on m1 after ${up.atMs - rejoinAtMs} ms`);
  });

  it("sees a leaving member down at once through SWIM", async () => {
    const leftAtMs = Date.now();
    const seenBefore = events.get("m1")!.length;
    await n2.stop();
    const down = await waitFor("m1 to see m2 down", () => events.get("m1")!.slice(seenBefore).find((e) => e.nodeId === "m2" && e.status === "down"));
    expect(n1.member("m2")?.swim).toBe("left");
    console.log(`[membership] leave of m2: down on m1 after ${down.atMs - leftAtMs} ms (${down.cause})`);
  });

  it("exports members by status, suspicion, status changes and SWIM probe round trips (m1's metrics)", async () => {
    expect(await sample('xsfleet_membership_members{status="up"}')).toBe(2);
    expect(await sample('xsfleet_membership_members{status="down"}')).toBe(1);
    // m3's crash and m2's leave were seen as downs, m3's return as an up.
    expect(await sample('xsfleet_membership_status_changes_total{status="down"}')).toBeGreaterThanOrEqual(2);
    expect(await sample('xsfleet_membership_status_changes_total{status="up"}')).toBeGreaterThanOrEqual(1);
    // A number for the present peer (its value depends on the machine's timing); the threshold is the detector's.
    expect(await sample('xsfleet_membership_suspicion{member="m3"}')).toBeGreaterThanOrEqual(0);
    expect(await sample("xsfleet_membership_suspicion_threshold")).toBe(n1.members()[1]!.threshold);
    const acked = await sample('xsfleet_swim_probes_total{result="acked"}');
    expect(acked).toBeGreaterThan(0);
    // Every acked probe (direct or indirect) has its round trip in the histogram.
    const indirect = (await sample('xsfleet_swim_probes_total{result="acked_indirect"}'))!;
    expect(await sample("xsfleet_swim_probe_rtt_seconds_count")).toBe(acked! + indirect);
    expect(await sample('xsfleet_membership_messages_total{event="heartbeatsReceived"}')).toBeGreaterThan(0);
  });

  it("answers a bad request with a clear error", async () => {
    const bad = await api<{ error: { code: string; message: string } }>(ClusterApiSubject.History, { limit: -1 });
    expect(bad.error.code).toBe("bad_request");
    expect(bad.error.message).toMatch(/limit/);
  });
});
