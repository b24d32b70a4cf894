// A gateway killed, against real nats-server and the real ingest
// (docs/edge.md "Gateway killed" and "Failover"). gw-a relays for four
// children over TCP; k-0 and k-1 know only gw-a, k-2 and k-3 also know gw-b
// (which lists them). gw-a dies without a clean leave (its broker socket
// and its listener drop at once; the broker publishes its will):
// - k-0 and k-1 show offline in device state ("gateway offline", derived by
//   ingest's presence sweep from gw-a's presence), within will + one sweep;
// - k-2 and k-3 fail over to gw-b: online with via = gw-b, their telemetry
//   continues with no batch counted twice and none missing;
// - gw-a comes back on its port: k-0 and k-1 rejoin and are online again.
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
import { startSimDevice, type GatewayAddress, type SimDevice } from "../../firmware/host/sim-device";
import { decodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { Uplink, parseDeviceAddress } from "../../shared/topics";
import { freePort } from "../../cloud/infra";

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
/** The ingest sweep period here: the bound on "gateway offline" is the will's way through ingest plus one of these. */
const sweepIntervalMs = 200;

describe("a gateway killed: its children offline, or failed over to a second gateway", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let role: IngestRole;
  let store: DeviceStateStore;
  let dir: string;
  let gwA: SimDevice;
  let gwB: SimDevice;
  let portA: number;
  const children = new Map<string, SimDevice>();
  const ids = ["k-0", "k-1", "k-2", "k-3"];
  /** Per child: telemetry seqs seen on NATS (any route) and the route of each. */
  const tele = new Map<string, Map<number, string>>();

  async function startGatewayA(): Promise<SimDevice> {
    const gw = await startSimDevice({
      deviceId: "gw-a", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "gw-a"), fsync: false,
      relay: { port: portA, children: ids }, heartbeatIntervalMs: 2_000, backoff: { baseMs: 100, capMs: 1_000 },
    });
    await gw.waitFor("connected");
    return gw;
  }

  const state = (id: string) => store.getDeviceState(id);

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    nc = await connect({ servers: nats.servers });
    role = await startIngestRole({
      nc, nodeId: "ingest-1", control: localProposer(new ControlStateMachine()), admission: admitAllDevices,
      config: { ackWaitMs: 2_000, sweepIntervalMs, heartbeatTimeoutFactor: 30 }, log: quietLog as never,
    });
    store = await DeviceStateStore.open(nc);
    for (const id of ids) tele.set(id, new Map());
    nc.subscribe("xsfleet.v1.>", {
      callback: (_e, m) => {
        const a = parseDeviceAddress(m.subject);
        const t = a === null ? undefined : tele.get(a.deviceId);
        if (a === null || t === undefined || a.kind !== Uplink.Telemetry) return;
        const env = decodeEnvelope(m.data);
        t.set(env.seq, env.via);
      },
    });
    await nc.flush();
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-failover-"));
    portA = await freePort();
    const portB = await freePort();
    gwA = await startGatewayA();
    gwB = await startSimDevice({
      deviceId: "gw-b", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "gw-b"), fsync: false,
      relay: { port: portB, children: ["k-2", "k-3"] }, heartbeatIntervalMs: 2_000,
    });
    await gwB.waitFor("connected");
    const a: GatewayAddress = { host: "127.0.0.1", port: portA };
    const b: GatewayAddress = { host: "127.0.0.1", port: portB };
    for (const [i, id] of ids.entries()) {
      children.set(id, await startSimDevice({
        deviceId: id, brokerUrl: "mqtt://unused:1", viaGateway: i < 2 ? a : [a, b], stateDir: path.join(dir, id), fsync: false,
        trace: { nodeId: 1 + i }, speedup: 60, sampleIntervalMs: 100, batchPointsMax: 10, batchAgeMaxMs: 1_000, heartbeatIntervalMs: 2_000,
        keepaliveS: 5, backoff: { baseMs: 100, capMs: 1_000 }, outbox: { receiptTimeoutMs: 2_000 },
      }));
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of children.values()) await c.stop();
    await gwA?.stop();
    await gwB?.stop();
    await role?.stop();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("children of a killed gateway go offline; those with a second gateway continue through it, each batch once", async () => {
    for (const id of ids) {
      await waitFor(`${id} online via gw-a with telemetry`, async () => {
        const d = await state(id);
        return d?.presence.state === "online" && d.via === "gw-a" && d.telemetry.batches >= 3;
      }, 60_000);
    }
    const killedMs = Date.now();
    gwA.crash(); // no clean leave: the broker socket and the children's links drop, the broker publishes gw-a's will
    for (const id of ["k-0", "k-1"]) {
      const d = await waitFor(`${id} offline (gateway offline)`, async () => {
        const s = await state(id);
        return s?.presence.state === "offline" ? s : null;
      }, { timeoutMs: 60_000, detail: () => `gw-a: ${JSON.stringify(gwA.stats().connected)}` });
      expect(d.presence).toMatchObject({ source: "gateway-offline", reason: "gateway offline" });
      expect(d.via).toBe("gw-a");
    }
    const offlineAfterMs = Date.now() - killedMs;
    console.log(`[gateway-failover] children of the killed gateway offline in device state ${offlineAfterMs} ms after the kill (sweep ${sweepIntervalMs} ms)`);
    expect((await state("gw-a"))?.presence.state).toBe("offline");

    for (const id of ["k-2", "k-3"]) {
      const child = children.get(id)!;
      const seen = tele.get(id)!;
      const before = (await state(id))!.telemetry.batches;
      await waitFor(`${id} online via gw-b, telemetry continuing`, async () => {
        const d = await state(id);
        return d?.presence.state === "online" && d.via === "gw-b" && d.telemetry.batches >= before + 3;
      }, 60_000);
      // Once the child's outbox is confirmed, state counts exactly the distinct batches NATS carried (none twice, none lost).
      await waitFor(`${id}: state batches = distinct relayed batches, outbox drained`, async () => {
        const d = await state(id);
        return d !== null && d.telemetry.batches === seen.size && child.stats().outboxDepth === 0 && d.telemetry.batches === child.stats().batches;
      }, { timeoutMs: 60_000, detail: () => `state ${before} nats ${seen.size} child ${JSON.stringify({ b: child.stats().batches, depth: child.stats().outboxDepth })}` });
      expect(child.stats().dropped).toBe(0);
      expect(new Set(seen.values())).toEqual(new Set(["gw-a", "gw-b"]));
    }
    expect(gwB.gateway!.children().map((c) => c.deviceId)).toEqual(["k-2", "k-3"]);
  }, 180_000);

  it("the killed gateway back on its port: its children rejoin and are online again", async () => {
    gwA = await startGatewayA();
    for (const id of ["k-0", "k-1"]) {
      await waitFor(`${id} online again via gw-a`, async () => {
        const d = await state(id);
        return d?.presence.state === "online" && d.via === "gw-a";
      }, 60_000);
    }
  }, 90_000);
});
