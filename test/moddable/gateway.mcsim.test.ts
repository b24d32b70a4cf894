// The gateway as the Moddable SDK builds it (mcconfig, lin, manifests/
// gateway.json), running in mcsim against this test's nats-server: its
// children are host-port devices with no broker connection that join it
// over TCP — the gateway side is Moddable's `socket` Listener/Socket
// (firmware/moddable/socket-links.ts). Their telemetry reaches NATS with
// via = the gateway, PubAcks come back over the link, and a child killed is
// shown offline by the gateway's will emulation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startNats, type NatsCluster } from "../harness/nats";
import { waitFor } from "../harness/wait";
import { moddableBuildTimeoutMs, moddableFirmware, startModdableDevice, stopModdable, type McsimDevice } from "../harness/moddable";
import { startSimDevice, type SimDevice } from "../../firmware/host/sim-device";
import { Presence, decodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { Uplink, parseDeviceAddress } from "../../shared/topics";
import { freePort } from "../../cloud/infra";


describe("Moddable-built gateway in mcsim", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let dir: string;
  let gw: McsimDevice;
  const kids: SimDevice[] = [];
  const ids = ["mc-kid-0", "mc-kid-1"];
  const tele = new Map<string, string[]>();
  const status = new Map<string, Array<{ presence: number; via: string }>>();

  beforeAll(async () => {
    const fw = await moddableFirmware(["gateway"]);
    nats = await startNats();
    nc = await connect({ servers: nats.servers });
    nc.subscribe("xsfleet.v1.dev.>", {
      callback: (_e, m) => {
        const a = parseDeviceAddress(m.subject);
        if (a === null || !ids.includes(a.deviceId)) return;
        const env = decodeEnvelope(m.data);
        if (a.kind === Uplink.Telemetry) tele.set(a.deviceId, [...(tele.get(a.deviceId) ?? []), env.via]);
        if (a.kind === Uplink.Status && env.status) status.set(a.deviceId, [...(status.get(a.deviceId) ?? []), { presence: env.status.presence, via: env.via }]);
      },
    });
    await nc.flush();
    dir = mkdtempSync(path.join(tmpdir(), "xsfleet-mcsim-gw-"));
    const port = await freePort();
    gw = await startModdableDevice(fw, {
      role: "gateway", deviceId: "mc-gw", mqttUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "mc-gw"),
      settings: { children: ids.join(","), gatewayPort: port, heartbeatIntervalMs: 1_000 },
    });
    await gw.waitForLine(/event .*"connected"/, 60_000);
    for (const [i, id] of ids.entries()) {
      kids.push(await startSimDevice({
        deviceId: id, brokerUrl: "mqtt://unused:1", viaGateway: { host: "127.0.0.1", port }, stateDir: path.join(dir, id), fsync: false,
        trace: { nodeId: 1 + i }, speedup: 60, sampleIntervalMs: 100, batchPointsMax: 10, batchAgeMaxMs: 1_000, keepaliveS: 5,
        backoff: { baseMs: 100, capMs: 1_000 },
      }));
    }
  }, moddableBuildTimeoutMs);

  afterAll(async () => {
    for (const k of kids) k.crash();
    await stopModdable();
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("relays its children's telemetry with via; PubAcks come back over Moddable's sockets", async () => {
    for (const k of kids) {
      await waitFor(`${k.deviceId}: 3 batches on NATS through mc-gw`, () => (tele.get(k.deviceId)?.length ?? 0) >= 3, { timeoutMs: 60_000, detail: () => `${JSON.stringify(k.stats())}\n${gw.lines.filter((l) => !l.includes('"hb"')).slice(-30).join("\n")}` });
      await waitFor(`${k.deviceId}: PubAcks over the link`, () => k.stats().acked >= 3, 60_000);
      expect(new Set(tele.get(k.deviceId))).toEqual(new Set(["mc-gw"]));
    }
  }, 120_000);

  it("shows a killed child offline via the gateway", async () => {
    const victim = kids[1]!;
    const list = (): Array<{ presence: number; via: string }> => status.get(victim.deviceId) ?? [];
    await waitFor("the child shown online", () => victim.stats().connected && list().at(-1)?.presence === Presence.PRESENCE_ONLINE, 60_000);
    const before = list().length;
    victim.crash();
    await waitFor("offline status of the killed child", () => list().length > before && list().at(-1)?.presence === Presence.PRESENCE_OFFLINE, 60_000);
    expect(status.get(victim.deviceId)!.at(-1)).toEqual({ presence: Presence.PRESENCE_OFFLINE, via: "mc-gw" });
  }, 90_000);
});
