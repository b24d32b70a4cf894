// A mesh on real UDP (node:dgram on 127.0.0.1) against nats-server and the
// real ingest: 8 peers count events locally and gossip; two of them also
// reach the broker and report the merged counter (PN state "mesh-events").
// Once counting stops, every peer converges to the total, and each
// reporter's device state holds exactly the total — the whole mesh's
// count, not its own share and not a sum of reports. The CRDT states of the
// two reporters merge to the same total (never double counted).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startNats, type NatsCluster } from "../harness/nats";
import { waitFor } from "../harness/wait";
import { admitAllDevices, startIngestRole, type IngestRole } from "../../cloud/ingest";
import { localProposer } from "../harness/local-proposer";
import { ControlStateMachine } from "../../cloud/control";
import { DeviceStateStore } from "../../cloud/state";
import { startMeshFleet, type MeshFleet } from "../../firmware/host/mesh-fleet";
import { PNCounter } from "../../shared/crdt/pncounter";

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

describe("mesh over UDP, reporting to nats-server and ingest", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let role: IngestRole;
  let store: DeviceStateStore;
  let dir: string;
  let mesh: MeshFleet;

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    nc = await connect({ servers: nats.servers });
    role = await startIngestRole({ nc, nodeId: "ingest-1", control: localProposer(new ControlStateMachine()), admission: admitAllDevices, config: { ackWaitMs: 2_000, sweepIntervalMs: 100, heartbeatTimeoutFactor: 30 }, log: quietLog as never });
    store = await DeviceStateStore.open(nc);
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-mesh-"));
    mesh = await startMeshFleet({
      peers: 8, reporters: 2, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: dir, gossipIntervalMs: 100, countEveryMs: 100, reportEveryMs: 500, heartbeatIntervalMs: 2_000,
    });
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    await role?.stop();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("all peers converge to the total; each reporter's state holds the total, and the reports merge to it", async () => {
    await waitFor("some counting", () => mesh.counted() >= 80, 60_000);
    mesh.pauseCounting();
    const total = mesh.counted();
    await waitFor("all 8 peers converged", () => mesh.converged() === 8, { timeoutMs: 60_000, detail: () => mesh.nodes.map((n) => n.peer.value("events")).join(",") });
    const states: PNCounter[] = [];
    for (const r of mesh.reporters) {
      const st = await waitFor(`${r.deviceId}: mesh-events = ${total} in device state`, async () => {
        const d = await store.getDeviceState(r.deviceId);
        const c = d?.counters["mesh-events"];
        return c !== undefined && c.value === total ? c : null;
      }, 60_000);
      expect(st.kind).toBe("pn");
      states.push(PNCounter.decode(new Uint8Array(Buffer.from(st.state, "base64")), { replicasMax: 128 }));
    }
    const merged = states[0]!.clone();
    merged.merge(states[1]!);
    expect(merged.value()).toBe(total);
    expect(states[0]!.value() + states[1]!.value()).toBe(2 * total); // what summing reports would claim
    for (const n of mesh.nodes) expect(n.peer.stats.bad).toBe(0);
  }, 120_000);
});
