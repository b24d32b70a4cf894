// Where an xsfleet write spends its time (bench:raft): the
// replicas' stage timings (cloud/controlplane/stage-timings.ts, read from
// raft.status) before and after one benchmark point, set against the
// client's own round trip. Means cover exactly that point (difference of the
// cumulative sums, warm-up included: the same load); medians are over each
// replica's last STAGE_WINDOW values (marked when that window reaches back
// before the point). What no replica measures is attributed to the NATS legs:
//   client↔leader legs = round trip − total_in_leader (client library,
//     client→broker→leader and leader→broker→client);
//   leader↔follower legs = follower_round_trip (leader: MsgApp written →
//     that follower's ack received) − follower_ack (follower: MsgApp received
//     → ack written), both over every MsgApp with entries to either follower
//     (leader→broker→follower and back).
// For scale, the bench's connection also times a bare NATS request/reply to
// the leader's process (its service's $SRV.PING: two broker legs and the
// least work a responder can do), so the client↔leader remainder splits
// into broker legs and client library + service framework.
import { performance } from "node:perf_hooks";
import { Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { CONTROL_SERVICE_NAME } from "../../cloud/controlplane";
import { LEADER_STAGES, type NodeStatus, type Stage, type StageSummary } from "../../cloud/controlplane";
import { fmt, pct, printTable, type Point } from "./load";

/** Sequential pings timed, after a few untimed. */
const PINGS = 500;

/** Round trip of a bare request/reply to the control-plane service instance on node `id` ($SRV.PING); undefined if not found. */
export async function pingNode(nc: NatsConnection, id: number): Promise<{ mean: number; p50: number } | undefined> {
  const infos = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).client({ strategy: "timer", maxWait: 1000 }).info(CONTROL_SERVICE_NAME);
  let instance: string | undefined;
  for await (const info of infos) if (info.metadata?.["node"] === String(id)) instance = info.id;
  if (!instance) return undefined;
  const subject = `$SRV.PING.${CONTROL_SERVICE_NAME}.${instance}`;
  const lat: number[] = [];
  for (let i = 0; i < PINGS + 20; i++) {
    const t0 = performance.now();
    await nc.request(subject, undefined, { timeout: 2000 });
    if (i >= 20) lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  return { mean: lat.reduce((a, b) => a + b, 0) / lat.length, p50: pct(lat, 0.5) };
}

export interface StageReading {
  readonly leader: number;
  readonly byNode: ReadonlyMap<number, StageSummary>;
}

export async function readStages(leader: number, ids: readonly number[], status: (id: number) => Promise<NodeStatus | undefined>): Promise<StageReading> {
  const byNode = new Map<number, StageSummary>();
  for (const id of ids) {
    const s = await status(id);
    if (s) byNode.set(id, s.stages);
  }
  return { leader, byNode };
}

interface Cell { mean: number; p50: number; stale: boolean }

function cell(before: StageSummary | undefined, after: StageSummary | undefined, k: Stage): Cell {
  const a = after?.[k];
  if (!a) return { mean: NaN, p50: NaN, stale: false };
  const b = before?.[k];
  const n = a.count - (b?.count ?? 0);
  return { mean: n > 0 ? (a.sumMs - (b?.sumMs ?? 0)) / n : NaN, p50: a.p50Ms, stale: n < a.window };
}

/** Prints the breakdown of the point `p` measured between the readings `before` and `after`. */
export function printStageBreakdown(title: string, concurrency: number, p: Point, before: StageReading, after: StageReading, ping?: { mean: number; p50: number }): void {
  if (before.leader !== after.leader) {
    console.log(`  ${title}: leader changed during the point (${before.leader} → ${after.leader}): no breakdown`);
    return;
  }
  const id = after.leader;
  const lb = before.byNode.get(id);
  const la = after.byNode.get(id);
  const rows: string[][] = [[concurrency === 1 ? "single-client write" : `write at ${concurrency} clients`, "mean ms", "p50 ms"]];
  const row = (label: string, c: Cell): void => { rows.push([label, fmt(c.mean, 3), `${fmt(c.p50, 3)}${c.stale ? "*" : ""}`]); };
  // Closed loop: the mean round trip is concurrency / throughput.
  const rt: Cell = { mean: (1000 * concurrency) / p.opsPerSec, p50: p.p50Ms, stale: false };
  row("client round trip (bench)", rt);
  for (const k of LEADER_STAGES) row(`  leader ${k}`, cell(lb, la, k));
  const total = cell(lb, la, "total_in_leader");
  row("  = leader total_in_leader", total);
  row("  (leader_fsync, overlaps replication)", cell(lb, la, "leader_fsync"));
  const roundTrip = cell(lb, la, "follower_round_trip");
  row("  (leader follower_round_trip, per follower)", roundTrip);
  // Both followers together: sums and counts added, medians averaged.
  let ackSum = 0;
  let ackCount = 0;
  const ackP50s: number[] = [];
  let ackStale = false;
  for (const [fid, fa] of after.byNode) {
    if (fid === id) continue;
    const fb = before.byNode.get(fid);
    const ack = cell(fb, fa, "follower_ack");
    row(`  follower ${fid} follower_ack`, ack);
    row(`    follower_queue`, cell(fb, fa, "follower_queue"));
    row(`    follower_persist`, cell(fb, fa, "follower_persist"));
    row(`      (of which follower_fsync)`, cell(fb, fa, "follower_fsync"));
    row(`    follower_send`, cell(fb, fa, "follower_send"));
    const n = (fa.follower_ack?.count ?? 0) - (fb?.follower_ack?.count ?? 0);
    ackSum += (fa.follower_ack?.sumMs ?? 0) - (fb?.follower_ack?.sumMs ?? 0);
    ackCount += n;
    ackP50s.push(ack.p50);
    ackStale ||= ack.stale;
  }
  row("NATS client<->leader legs (rt - total_in_leader)", { mean: rt.mean - total.mean, p50: rt.p50 - total.p50, stale: total.stale });
  if (ping) row("  (for scale: bare request/reply to the leader, $SRV.PING)", { ...ping, stale: false });
  if (ackCount > 0) {
    const ackP50 = ackP50s.reduce((a, b) => a + b, 0) / ackP50s.length;
    row("NATS leader<->follower legs (round trip - follower_ack)", { mean: roundTrip.mean - ackSum / ackCount, p50: roundTrip.p50 - ackP50, stale: roundTrip.stale || ackStale });
  }
  console.log(`\n  ${title}: where the time goes (leader ${id}; means over the point, p50 of each stage separately${rows.some((r) => r[2]!.endsWith("*")) ? "; * window reaches back before the point" : ""})`);
  printTable(rows);
  console.log("");
}
