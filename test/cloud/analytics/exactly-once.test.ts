// Exactly-once window results under failure, against real nats-server: the
// same device data (with retransmits and out-of-order batches) processed by
// one healthy analytics node, and by two nodes of which one freezes after
// publishing a batch's results but before checkpointing it (and stops
// renewing its leases, as a killed node does). The survivor takes the
// partition over, restores the checkpoint and replays; the results stream
// and the alerts stream must hold exactly the same records as the run
// without the fault — same ids, same bodies, none twice.
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertStateBucket, checkpointBucket, checkpointKey, type PartitionCheckpoint } from "../../../cloud/analytics";
import { alertsStream, analyticsStream } from "../../../cloud/subjects";
import type { RuleDef } from "../../../shared/stream";
import { devicePartition, Uplink } from "../../../shared/topics";
import { startNats, type NatsCluster } from "../../harness/nats";
import { telemetryEnvelope } from "../../harness/envelopes";
import { until } from "../../harness/wait";
import { prepareBroker, publishUplink, readStream, severableControl, startNode, testPartitions, type TestNode } from "./helpers";

const devices = ["dev-a", "dev-b", "dev-c", "dev-d", "dev-e"];
const batches = 30;
const base = 1_700_000_040_000;
const rules: RuleDef[] = [{
  id: "humid", match: { channel: "humidity" }, when: { kind: "threshold", above: 45, clearBelow: 42 }, actions: [{ kind: "event", on: "raise" }],
}];

/** Per device: seqs 1..batches with two swapped pairs (out of order) and two retransmits, then a far-future batch that closes every window. */
function schedule(): Array<{ deviceId: string; seq: number }> {
  const out: Array<{ deviceId: string; seq: number }> = [];
  for (const deviceId of devices) {
    const seqs = Array.from({ length: batches }, (_, i) => i + 1);
    [seqs[4], seqs[5]] = [seqs[5]!, seqs[4]!];
    [seqs[17], seqs[19]] = [seqs[19]!, seqs[17]!];
    seqs.splice(10, 0, 7);
    seqs.splice(25, 0, 20);
    for (const seq of seqs) out.push({ deviceId, seq });
  }
  return out;
}

async function publishAll(url: string): Promise<Map<number, number>> {
  const { nc, js } = await prepareBroker(url);
  const last = new Map<number, number>();
  const put = async (deviceId: string, seq: number, points: number): Promise<void> => {
    const at = await publishUplink(js, telemetryEnvelope(deviceId, seq, points, base), Uplink.Telemetry);
    last.set(devicePartition(deviceId, testPartitions), at);
  };
  for (const { deviceId, seq } of schedule()) await put(deviceId, seq, 10);
  // Far in the future: the watermark passes every window and its lateness (final records).
  for (const deviceId of devices) await put(deviceId, 10_000, 1);
  await nc.close();
  return last;
}

/** Waits until every partition's checkpoint covers its last message. */
async function settle(url: string, last: Map<number, number>): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const kv = await new Kvm(nc).open(checkpointBucket);
    await until("every partition checkpointed up to its last message", async () => {
      for (const [p, seq] of last) {
        const e = await kv.get(checkpointKey(p));
        if (!e || e.operation !== "PUT") return false;
        const v = e.json<{ value: PartitionCheckpoint }>().value;
        if (v.seq < seq) return false;
      }
      return true;
    }, 60_000);
  } finally {
    await nc.close();
  }
}

async function stopAll(nodes: TestNode[]): Promise<void> {
  for (const n of nodes) {
    await n.role.stop();
    await n.nc.close();
  }
}

/** Forgets everything analytics stored (results, alerts, checkpoints): the next run starts over on the same XSF_UP. */
async function resetAnalytics(url: string): Promise<void> {
  const { nc, js } = await prepareBroker(url);
  const jsm = await js.jetstreamManager();
  for (const s of [analyticsStream, alertsStream, `KV_${checkpointBucket}`, `KV_${alertStateBucket}`]) await jsm.streams.delete(s);
  await nc.close();
}

describe("analytics: exactly-once results under failure", () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNats();
  }, 60_000);
  afterAll(async () => {
    await nats?.stop();
  });

  it("a node frozen between publishing a batch's results and checkpointing it: the survivor's replay gives the same records, none twice", async () => {
    const url = nats.nodes[0]!.natsUrl;
    // Both runs read the same XSF_UP (same messages, same storage times).
    const last = await publishAll(url);
    const one = await startNode(url, "an-1", severableControl().forNode("an-1"), rules);
    await settle(url, last);
    // The device retransmits (two per device) were recognised by ingest's dedup rules.
    expect(Object.values(one.role.stats().processors).reduce((n, p) => n + p.duplicates, 0)).toBe(2 * devices.length);
    await stopAll([one]);
    const { nc: c1, js: js1 } = await prepareBroker(url);
    const r1 = await readStream(js1, analyticsStream);
    const a1 = await readStream(js1, alertsStream);
    await c1.close();
    await resetAnalytics(url);

    // Node A freezes before its third checkpoint (after publishing that batch's results) and is cut off.
    const control = severableControl();
    let checkpointsA = 0;
    let frozen = false;
    const a = await startNode(url, "an-a", control.forNode("an-a"), rules, {
      faults: {
        beforeCheckpoint: () => {
          if (++checkpointsA < 3) return;
          frozen = true;
          control.cut("an-a");
          return new Promise<void>(() => undefined);
        },
      },
    });
    await until("node A froze mid-stream", () => frozen, 30_000);
    const b = await startNode(url, "an-b", control.forNode("an-b"), rules);
    await settle(url, last);
    expect(b.role.stats().partitionsAcquired, "B took every partition, A's included").toBe(testPartitions);
    // B's replay republished what A had published but not checkpointed: the stream dropped the copies.
    expect(b.role.stats().resultsDuplicate).toBeGreaterThan(0);
    await b.role.stop();
    await b.nc.close();
    await a.nc.close();

    const { nc: c2, js: js2 } = await prepareBroker(url);
    try {
      const byId = (rs: Array<{ id: string; body: unknown; subject: string }>) => rs.map((r) => JSON.stringify([r.id, r.subject, r.body])).sort();
      const r2 = await readStream(js2, analyticsStream);
      expect(r1.length).toBeGreaterThan(devices.length * 10);
      expect(new Set(r2.map((r) => r.id)).size, "no result twice").toBe(r2.length);
      expect(byId(r2)).toEqual(byId(r1));
      // Corrections of the swapped batches and final records are among them.
      expect(r1.some((r) => (r.body.revision as number) > 0)).toBe(true);
      expect(r1.some((r) => r.body.final === true)).toBe(true);
      const a2 = await readStream(js2, alertsStream);
      // Humidity climbs past 45 in every device's data and falls to 40 in its last batch: one raise and one clear each.
      expect(a1.map((r) => `${r.body.key as string} ${r.body.state as string}`).sort()).toEqual(devices.flatMap((d) => [`${d} cleared`, `${d} raised`]));
      expect(byId(a2)).toEqual(byId(a1));
    } finally {
      await c2.close();
    }
  }, 120_000);
});
