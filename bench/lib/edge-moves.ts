// Edge job moves against real nats-server (bench/edge.ts Part 5): ingest,
// a KV registry, the device shadow with its delta pusher, the EdgeScheduler on a
// ControlPlaneLock (in-process state machine), and 3 processing devices
// (host-port runtimes). A rules job is placed; its device is killed (power
// loss), the time to offline in device state and from there to the job
// running on another device are measured; the killed device is restarted
// from its flash before the next kill.
import { connect } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startNats } from "../../test/harness/nats";
import { localProposer } from "../../test/harness/local-proposer";
import { waitFor } from "../../test/harness/wait";
import { admitAllDevices, startIngestRole } from "../../cloud/ingest";
import { ControlStateMachine } from "../../cloud/control";
import { ControlPlaneLock } from "../../cloud/lock";
import { KvDeviceRegistry } from "../../cloud/registry";
import { ShadowDeltaPusher, ShadowStore, shadowReportMerger } from "../../cloud/shadow";
import { DeviceStateMirror } from "../../cloud/state";
import { EDGE_SCHEDULER_LEASE, EdgeScheduler, edgeJobDef } from "../../cloud/recovery";
import { freePort } from "../../cloud/infra";
import { startSimDevice, type SimDevice } from "../../firmware/host/sim-device";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export async function measureEdgeJobMoves(o: { tickMs: number; kills: number }): Promise<{ detectMs: number[]; moveMs: number[] }> {
  const nats = await startNats({ partitions: 16 });
  const nc = await connect({ servers: nats.servers });
  const control = localProposer(new ControlStateMachine());
  const shadow = await ShadowStore.open(nc);
  // Reports joined into the reported documents: a deleted job reaches a device only while it still reports it.
  const ingest = await startIngestRole({
    nc, nodeId: "ingest-1", control, admission: admitAllDevices, shadowReports: shadowReportMerger(shadow),
    config: { ackWaitMs: 2_000, sweepIntervalMs: 100, heartbeatTimeoutFactor: 30 }, log: quiet as never,
  });
  const registry = await KvDeviceRegistry.open(nc, { replicas: 1 });
  const pusher = new ShadowDeltaPusher(nc, shadow);
  pusher.start();
  const mirror = new DeviceStateMirror(nc).start();
  const lock = new ControlPlaneLock({ propose: control, ownerId: "orch-1" });
  const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-edge-moves-"));
  const ids = ["proc-0", "proc-1", "proc-2"];
  const ports = new Map<string, number>();
  const devices = new Map<string, SimDevice>();
  const start = async (id: string): Promise<void> => {
    ports.set(id, ports.get(id) ?? (await freePort()));
    devices.set(id, await startSimDevice({
      deviceId: id, brokerUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, id), fsync: false, heartbeatIntervalMs: 1_000,
      role: "processing", relay: { port: ports.get(id)!, children: [] },
    }));
  };
  const moves: Array<{ from: string | null; to: string | null; atMs: number }> = [];
  const detectMs: number[] = [];
  const moveMs: number[] = [];
  let handle: { stop(): Promise<void> } | undefined;
  try {
    for (const id of ids) {
      await registry.register(id);
      await start(id);
    }
    const online = (id: string): boolean => [...mirror.devices()].some((s) => s.deviceId === id && s.presence.state === "online" && s.hello !== null);
    await waitFor("processing devices online", () => ids.every(online), 60_000);
    const got = await lock.acquire(EDGE_SCHEDULER_LEASE, { ttlMs: 600_000, timeoutMs: 5_000 });
    if (!got.ok) throw new Error("no scheduler lease");
    const s = new EdgeScheduler({
      nc, nodeId: "orch-1", registry, shadow, devices: () => mirror.devices(), ready: () => mirror.ready(5_000), jobs: [edgeJobDef({ id: "rules-1", spec: "rules;ch=temperature;gt=30" })],
      fence: lock, tickMs: o.tickMs, onMove: (m) => moves.push(m),
    });
    handle = await s.asSingletonWork().start(got.lock.token);
    let owner = (await waitFor("rules-1 placed", () => moves.find((m) => m.to !== null), 30_000)).to!;
    for (let k = 0; k < o.kills; k++) {
      await waitFor(`${owner} runs rules-1`, () => devices.get(owner)!.gateway!.work.jobIds().includes("rules-1"), 30_000);
      await waitFor("every device online", () => ids.every(online), 60_000);
      const killedAt = Date.now();
      devices.get(owner)!.crash();
      const offlineAt = await waitFor("offline", () => ([...mirror.devices()].find((x) => x.deviceId === owner)?.presence.state === "offline" ? Date.now() : undefined), 60_000);
      const m = await waitFor("moved", () => moves.find((x) => x.from === owner && x.atMs >= killedAt && x.to !== null), 30_000);
      await waitFor("running elsewhere", () => devices.get(m.to!)!.gateway!.work.jobIds().includes("rules-1"), 30_000);
      const runningAt = Date.now();
      detectMs.push(offlineAt - killedAt);
      moveMs.push(runningAt - offlineAt);
      await start(owner); // back from its flash: on its Hello the delta deletes the job it still reports
      owner = m.to!;
    }
  } finally {
    await handle?.stop();
    for (const d of devices.values()) d.crash();
    mirror.stop();
    await pusher.stop();
    await ingest.stop();
    await nc.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { detectMs, moveMs };
}
