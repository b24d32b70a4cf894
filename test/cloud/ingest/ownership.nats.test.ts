// A lapsed owner stops before the next owner starts (docs/delivery.md "One
// writer per device"), on a real nats-server: node A owns every partition,
// then loses the control plane (its proposals fail: a partition between A
// and the Raft replicas, while A still reaches NATS). A cannot renew; at its
// local deadline (request time + TTL − margin) it stops pulling and
// writing. Node B, with a working control plane, takes the partitions only
// once A's membership and leases lapsed there. The order is checked on one
// clock (both nodes run in this process): A released the device's partition
// before B acquired it; B applies what was sent meanwhile, A applies
// nothing after its release, nobody meets a foreign write.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createLogger, type Logger } from "../../../cloud/base";
import { ControlStateMachine, type Proposer } from "../../../cloud/control";
import { admitAllDevices, startIngestRole, type IngestRole } from "../../../cloud/ingest";
import { DeviceStateStore } from "../../../cloud/state";
import { encodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import { devicePartition } from "../../../shared/topics";
import { localProposer } from "../../harness/local-proposer";
import { startNats, type NatsCluster } from "../../harness/nats";
import { waitFor } from "../../harness/wait";
import { telemetryEnvelope } from "./helpers";

const partitions = 16;
const config = { partitions, ownershipTtlMs: 2_000, ackWaitMs: 2_000, sweepIntervalMs: 1_000 };

/** A logger that records partition acquisitions and releases with the time they happened. */
function recordingLog(node: string, into: { node: string; msg: string; partition: number; atMs: number }[]): Logger {
  return createLogger({
    level: "info",
    write: (line) => {
      const o = JSON.parse(line) as { msg: string; partition?: number };
      if (o.partition !== undefined && /partition (acquired|released)/.test(o.msg)) into.push({ node, msg: o.msg, partition: o.partition, atMs: performance.now() });
    },
  });
}

describe("a lapsed partition owner", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  const roles: IngestRole[] = [];

  beforeAll(async () => {
    nats = await startNats({ partitions });
    nc = await connect({ servers: nats.servers });
  });
  afterAll(async () => {
    for (const r of roles) await r.stop().catch(() => undefined);
    await nc?.close();
    await nats?.stop();
  });

  it("stops pulling and writing at its local deadline; the next owner starts only after that", async () => {
    const sm = new ControlStateMachine();
    const working = localProposer(sm);
    let cut = false;
    const aControl: Proposer = (cmd, session) => (cut ? Promise.reject(new Error("control plane unreachable")) : working(cmd, session));
    const log: { node: string; msg: string; partition: number; atMs: number }[] = [];
    const id = "dev-lapse";
    const p = devicePartition(id, partitions);
    const a = await startIngestRole({ admission: admitAllDevices, nc, nodeId: "ingest-a", control: aControl, config, log: recordingLog("a", log) });
    roles.push(a);
    await waitFor("A owns every partition", () => a.stats().partitionsOwned.length === partitions);
    for (let seq = 1; seq <= 5; seq++) nc.publish(`xsfleet.v1.dev.${id}.tele`, encodeEnvelope(telemetryEnvelope(id, seq, 2)));
    const store = await DeviceStateStore.open(nc);
    await waitFor("A applied the first five", async () => (await store.getDeviceState(id))?.telemetry.batches === 5);

    cut = true;
    const b = await startIngestRole({ admission: admitAllDevices, nc, nodeId: "ingest-b", control: working, config, log: recordingLog("b", log) });
    roles.push(b);
    await waitFor("A let every partition go", () => a.stats().partitionsOwned.length === 0, 20_000);
    const appliedByA = a.stats().applied;
    for (let seq = 6; seq <= 10; seq++) nc.publish(`xsfleet.v1.dev.${id}.tele`, encodeEnvelope(telemetryEnvelope(id, seq, 2)));
    await waitFor("B owns every partition", () => b.stats().partitionsOwned.length === partitions, 20_000);
    await waitFor("B applied the rest", async () => (await store.getDeviceState(id))?.telemetry.batches === 10, 20_000);

    const releasedByA = log.find((e) => e.node === "a" && e.partition === p && /released/.test(e.msg))!;
    const acquiredByB = log.find((e) => e.node === "b" && e.partition === p && /acquired/.test(e.msg))!;
    expect(releasedByA.atMs).toBeLessThan(acquiredByB.atMs);
    expect(a.stats().applied).toBe(appliedByA);
    expect(b.stats().applied).toBe(5);
    expect([a.stats().foreignWrites, b.stats().foreignWrites]).toEqual([0, 0]);
    expect((await store.getDeviceState(id))?.telemetry).toEqual({ batches: 10, points: 20, lastSeq: 10 });
  }, 60_000);
});
