// A star against real nats-server and the real ingest: a gateway (the host
// port's device runtime in the gateway role) relays for 8 children that
// connect to it over TCP and have no broker connection of their own. Every
// child's telemetry reaches device state, each batch counted once, with
// via = the gateway on every uplink NATS saw; receipts come back through the
// gateway (the children's outboxes drain); a child killed shows offline via
// the gateway's will emulation. via is checked on the subjects ingest
// consumes and in device state (the route of the newest uplink).
// Ingest answers each child's uplinks with receipts on the child's rcpt
// downlink, which the gateway relays down the links like any downlink.
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
import { startSimDevice, type SimDevice } from "../../firmware/host/sim-device";
import { Presence, createCommand, createEnvelope, decodeEnvelope, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, deviceSubject, parseDeviceAddress } from "../../shared/topics";
import { freePort } from "../../cloud/infra";

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };


describe("star over TCP against nats-server and ingest", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let role: IngestRole;
  let store: DeviceStateStore;
  let dir: string;
  let gw: SimDevice;
  const children: SimDevice[] = [];
  // Eight children, as issue 9 asks of a gateway with no broker route for its children.
  const ids = Array.from({ length: 8 }, (_, i) => `kid-${i}`);
  /** Per child: distinct telemetry seqs seen on NATS, and uplinks without via = gw. */
  const seen = new Map<string, {
    teleSeqs: Set<number>; batchSeqs: Set<number>; withoutVia: number; statuses: Array<{ presence: number; via: string }>; acks: Array<{ seq: number; via: string; commandId: string }>;
  }>();

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    nc = await connect({ servers: nats.servers });
    role = await startIngestRole({ nc, nodeId: "ingest-1", control: localProposer(new ControlStateMachine()), admission: admitAllDevices, config: { ackWaitMs: 2_000, sweepIntervalMs: 100, heartbeatTimeoutFactor: 30 }, log: quietLog as never });
    store = await DeviceStateStore.open(nc);
    for (const id of ids) seen.set(id, { teleSeqs: new Set(), batchSeqs: new Set(), withoutVia: 0, statuses: [], acks: [] });
    nc.subscribe("xsfleet.v1.>", {
      callback: (_e, m) => {
        const a = parseDeviceAddress(m.subject);
        const s = a === null ? undefined : seen.get(a.deviceId);
        if (a === null || s === undefined) return;
        if (a.kind !== Uplink.Telemetry && a.kind !== Uplink.Status && a.kind !== Uplink.Hello && a.kind !== Uplink.Heartbeat && a.kind !== Uplink.CommandAck) return;
        const env = decodeEnvelope(m.data);
        if (env.via !== "gw-1") s.withoutVia++;
        if (a.kind === Uplink.Telemetry) s.teleSeqs.add(env.seq);
        if (a.kind === Uplink.Telemetry && env.telemetry) s.batchSeqs.add(env.telemetry.batchSeq);
        if (a.kind === Uplink.CommandAck && env.commandAck) s.acks.push({ seq: env.seq, via: env.via, commandId: env.commandAck.commandId });
        if (a.kind === Uplink.Status && env.status !== undefined) s.statuses.push({ presence: env.status.presence, via: env.via });
      },
    });
    await nc.flush();
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-star-"));
    const port = await freePort();
    gw = await startSimDevice({
      deviceId: "gw-1", brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "gw-1"), fsync: false,
      relay: { port, children: ids }, heartbeatIntervalMs: 2_000,
    });
    await gw.waitFor("connected");
    for (const [i, id] of ids.entries()) {
      children.push(await startSimDevice({
        deviceId: id, brokerUrl: "mqtt://unused:1", viaGateway: { host: "127.0.0.1", port }, stateDir: path.join(dir, id), fsync: false,
        trace: { nodeId: 1 + (i % 4) }, speedup: 60, sampleIntervalMs: 100, batchPointsMax: 10, batchAgeMaxMs: 1_000, heartbeatIntervalMs: 2_000,
        keepaliveS: 5, backoff: { baseMs: 100, capMs: 1_000 }, outbox: { receiptTimeoutMs: 2_000 },
      }));
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of children) await c.stop();
    await gw?.stop();
    await role?.stop();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("every child's telemetry reaches device state once, relayed with via; receipts drain the children's outboxes", async () => {
    for (const c of children) {
      const s = seen.get(c.deviceId)!;
      const st = await waitFor(`${c.deviceId}: 5 batches in device state and confirmed on the child`, async () => {
        const d = await store.getDeviceState(c.deviceId);
        return d !== null && d !== undefined && d.telemetry.batches >= 5 && c.stats().confirmed >= 5 ? d : null;
      }, { timeoutMs: 60_000, detail: () => JSON.stringify({ gw: gw.gateway?.stats, child: c.stats().confirmed }) });
      expect(st.presence.state).toBe("online");
      expect(st.via).toBe("gw-1");
      expect(s.withoutVia, c.deviceId).toBe(0);
      // Counted once: once the child's sent batches are all receipted, state
      // holds exactly the distinct batches NATS carried (retransmits included).
      await waitFor(`${c.deviceId}: state batches equal distinct relayed batches`, async () => {
        const d = await store.getDeviceState(c.deviceId);
        return d !== null && d !== undefined && d.telemetry.batches === s.teleSeqs.size;
      }, 60_000);
    }
    const g = gw.gateway!.stats;
    expect(g.admitted).toBeGreaterThanOrEqual(ids.length);
    expect(g.badFrames).toBe(0);
    expect(g.downlinks).toBeGreaterThan(0); // receipts went down the links
    expect(gw.gateway!.children().map((c) => c.deviceId)).toEqual(ids);
  }, 180_000);

  it("a command reaches the right child through the gateway, executed once, acknowledged with via", async () => {
    const id = "kid-1";
    const cmd = encodeEnvelope(createEnvelope({
      schemaVersion, deviceId: id, seq: 1, command: createCommand({ commandId: "edge-cmd-1", name: "ping", deadlineMs: Date.now() + 60_000 }),
    }));
    const child = children[1]!;
    const executed = (): number => child.stats().counters.cmdsExecuted ?? 0;
    const before = executed();
    nc.publish(deviceSubject(id, Downlink.Command), cmd);
    await waitFor("the ack of edge-cmd-1 on NATS", () => seen.get(id)!.acks.some((a) => a.commandId === "edge-cmd-1"), 60_000);
    nc.publish(deviceSubject(id, Downlink.Command), cmd); // the cloud's retry: a duplicate, not run again
    await waitFor("the second ack", () => seen.get(id)!.acks.filter((a) => a.commandId === "edge-cmd-1").length >= 2, 60_000);
    expect(executed() - before).toBe(1);
    expect(seen.get(id)!.acks.every((a) => a.via === "gw-1")).toBe(true);
    for (const other of ids.filter((x) => x !== id)) expect(seen.get(other)!.acks).toEqual([]);
  }, 120_000);

  it("the gateway's uplink is cut and restored: children reconnect, their batches continue with no gap, each counted once", async () => {
    gw.cutNetwork();
    await waitFor("children closed by the gateway", () => children.every((c) => !c.stats().connected), 60_000);
    const during = children.map((c) => c.stats().batches);
    await waitFor("children keep sampling while cut off", () => children.every((c, i) => c.stats().batches > during[i]!), 60_000);
    gw.restoreNetwork();
    await waitFor("children back through the gateway", () => children.every((c) => c.stats().connected), 60_000);
    for (const [i, c] of children.entries()) {
      const s = seen.get(c.deviceId)!;
      await waitFor(`${c.deviceId}: the batches made while cut off reached NATS`, () => Math.max(...s.batchSeqs) >= during[i]! + 1, 60_000);
      const seqs = [...s.batchSeqs].sort((a, b) => a - b);
      expect(seqs, c.deviceId).toEqual(seqs.map((_, k) => seqs[0]! + k)); // no gap: nothing lost
      await waitFor(`${c.deviceId}: state batches equal distinct relayed batches`, async () => {
        const d = await store.getDeviceState(c.deviceId);
        return d !== null && d !== undefined && d.telemetry.batches === s.teleSeqs.size;
      }, 60_000);
    }
    expect(gw.gateway!.stats.badFrames).toBe(0);
  }, 180_000);

  it("a killed child shows offline through the gateway", async () => {
    const victim = children[children.length - 1]!;
    victim.crash();
    const st = await waitFor(`${victim.deviceId} offline in device state`, async () => {
      const d = await store.getDeviceState(victim.deviceId);
      return d?.presence.state === "offline" ? d : null;
    }, 60_000);
    expect(st.presence.state).toBe("offline");
    const last = seen.get(victim.deviceId)!.statuses.at(-1);
    expect(last).toEqual({ presence: Presence.PRESENCE_OFFLINE, via: "gw-1" });
  }, 90_000);
});
