// A mesh on real UDP (node:dgram on 127.0.0.1) against nats-server, the
// real ingest and the API: 16 peers count events locally and gossip over a
// lossy LAN (20 % of datagrams dropped); two of them (mesh-0, mesh-1) also
// reach the broker and report the merged counter (PN state "mesh-events").
// The peers are split in two halves (a partition, each reporter on its own
// side) and keep counting: no peer and no single report holds the total,
// yet the cloud-wide merge (API mesh.counters: max per replica across the
// reporters) equals the sum of increments. After the partition heals every
// peer converges, each reporter's state holds the total, and the merge
// still equals it, never the sum of the reports (double counted).
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
import { ApiClient } from "../../cloud/api";
import type { CloudNode } from "../../cloud/node/node";
import { startTestNode } from "../cloud/api/fixture";
import { startMeshFleet, type MeshFleet } from "../../firmware/host/mesh-fleet";

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
const peers = 16;

describe("mesh over lossy UDP with a partition, merged in the cloud", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let role: IngestRole;
  let node: CloudNode;
  let api: ApiClient;
  let store: DeviceStateStore;
  let dir: string;
  let mesh: MeshFleet;

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    nc = await connect({ servers: nats.servers });
    role = await startIngestRole({ nc, nodeId: "ingest-1", control: localProposer(new ControlStateMachine()), admission: admitAllDevices, config: { ackWaitMs: 2_000, sweepIntervalMs: 100, heartbeatTimeoutFactor: 30 }, log: quietLog as never });
    store = await DeviceStateStore.open(nc);
    node = await startTestNode(nats.servers);
    api = new ApiClient(nc);
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-mesh-"));
    mesh = await startMeshFleet({
      peers, reporters: 2, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: dir, gossipIntervalMs: 100, countEveryMs: 100, reportEveryMs: 300, heartbeatIntervalMs: 2_000,
      lossRate: 0.2, seed: 7,
    });
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    await node?.stop();
    await role?.stop();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const merged = async (): Promise<{ value: number; reportedSum: number; reporters: string[]; replicas: number } | undefined> =>
    (await api.meshCounters()).counters.find((c) => c.name === "events");
  const reported = async (id: string): Promise<number | undefined> => (await store.getDeviceState(id))?.counters["mesh-events"]?.value;

  it("partitioned: no single report holds the total, the cloud's merge does", async () => {
    await waitFor("some counting", () => mesh.counted() >= peers * 3, 60_000);
    const evens = Array.from({ length: peers / 2 }, (_, k) => 2 * k); // mesh-0's side
    const odds = evens.map((i) => i + 1); // mesh-1's side
    mesh.partition([evens, odds]);
    const atSplit = mesh.counted();
    await waitFor("counting on both sides", () => mesh.counted() >= atSplit + peers * 5, 60_000);
    mesh.pauseCounting();
    const total = mesh.counted();
    const m = await waitFor(`the cloud's merged mesh-events = ${total}`, async () => {
      const c = await merged();
      return c !== undefined && c.value === total ? c : null;
    }, { timeoutMs: 60_000, detail: () => `peers: ${mesh.nodes.map((n) => n.peer.value("events")).join(",")}` });
    expect(m.reporters).toEqual(["mesh-0", "mesh-1"]);
    expect(m.replicas).toBe(peers);
    // Each side knows only its own half's increments since the split.
    expect(await reported("mesh-0")).toBeLessThan(total);
    expect(await reported("mesh-1")).toBeLessThan(total);
    expect(mesh.converged()).toBe(0);
    expect(mesh.dropped()).toBeGreaterThan(0);
  }, 120_000);

  it("healed: all 16 peers converge; each report holds the total; the merge equals it, never the sum of reports", async () => {
    mesh.heal();
    const total = mesh.counted();
    await waitFor(`all ${peers} peers converged`, () => mesh.converged() === peers, { timeoutMs: 60_000, detail: () => mesh.nodes.map((n) => n.peer.value("events")).join(",") });
    for (const id of ["mesh-0", "mesh-1"]) await waitFor(`${id}: mesh-events = ${total} in device state`, async () => (await reported(id)) === total, 60_000);
    const m = (await merged())!;
    expect(m.value).toBe(total);
    expect(m.reportedSum).toBe(2 * total); // what summing the reports would claim
    for (const n of mesh.nodes) expect(n.peer.stats.bad).toBe(0);
  }, 120_000);
});
