// `xsfleet sim`: the real firmware code (host port) as a fleet against any broker.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startSimFleet, fleetDevicesMax, simFleetIds } from "../../firmware/host/sim-fleet";
import type { CreatedClaim } from "../api";
import { intOption, numberOption, parseCommand, stringOption, UsageError, type CommandSpec } from "./args";
import { fmtRate, liveStatus, RateMeter } from "./live-status";
import { waitForSignalOrTimeout } from "./signals";

export const simSpec: CommandSpec = {
  name: "sim",
  summary: "Attach a simulated fleet — the real firmware code on the host port, replaying room-climate traces — to an MQTT broker.",
  usage: "xsfleet sim --broker mqtt://host:port [options]",
  options: {
    broker: { type: "string", value: "URL", description: "MQTT broker URL (nats-server's MQTT listener); repeat for failover", multiple: true },
    devices: { type: "string", value: "N", description: `number of devices (1-${fleetDevicesMax})`, default: "24" },
    actuators: { type: "string", value: "N", description: "how many of them are actuators", default: "2" },
    speedup: { type: "string", value: "X", description: "trace replay speed factor", default: "30" },
    "heartbeat-ms": { type: "string", value: "MS", description: "device heartbeat interval", default: "5000" },
    "state-dir": { type: "string", value: "DIR", description: "device flash emulation (outbox, counters); default: a temp dir" },
    prefix: { type: "string", value: "ID", description: "device id prefix", default: "sim-" },
    duration: { type: "string", value: "S", description: "stop after S seconds (default: run until Ctrl-C)" },
    claims: { type: "string", value: "FILE", description: "claims from `xsfleet claims create --json`: devices without a stored credential provision with them" },
    "tls-ca": { type: "string", value: "FILE", description: "CA certificate to verify an mqtts:// broker with" },
  },
  examples: [
    "xsfleet sim --broker mqtt://127.0.0.1:1884 --devices 50", "xsfleet sim --broker mqtt://n1:1883 --broker mqtt://n2:1883 --devices 500 --speedup 120",
    "xsfleet claims create --device sim-0 --device sim-1 --json > claims.json && xsfleet sim --broker mqtt://127.0.0.1:4334 --devices 2 --claims claims.json",
  ],
};

/** Claim tokens by device id: claims for a device go to it, claims for any device to the remaining ids in order. */
function claimsByDevice(file: string, ids: readonly string[]): Map<string, string> {
  let list: CreatedClaim[];
  try {
    list = JSON.parse(readFileSync(file, "utf8")) as CreatedClaim[];
    if (!Array.isArray(list) || list.some((c) => typeof c?.token !== "string")) throw new Error("expected the JSON list `xsfleet claims create --json` prints");
  } catch (e) {
    throw new UsageError(`--claims ${file}: ${(e as Error).message}`, "sim");
  }
  const out = new Map<string, string>();
  for (const c of list) if (c.deviceId !== undefined && ids.includes(c.deviceId)) out.set(c.deviceId, c.token);
  const free = ids.filter((id) => !out.has(id));
  for (const c of list.filter((x) => x.deviceId === undefined)) {
    const id = free.shift();
    if (id === undefined) break;
    out.set(id, c.token);
  }
  return out;
}

export async function runSim(argv: string[]): Promise<number> {
  const p = parseCommand(simSpec, argv);
  if (!p) return 0;
  const brokers = (p.broker as string[] | undefined) ?? [];
  if (brokers.length === 0) throw new UsageError("--broker is required (e.g. --broker mqtt://127.0.0.1:1884)", "sim");
  for (const b of brokers) if (!/^mqtts?:\/\/[^/]+:\d+\/?$/.test(b)) throw new UsageError(`--broker ${b} is not mqtt://host:port`, "sim");
  const devices = intOption(p, "devices", 1, fleetDevicesMax);
  const actuators = intOption(p, "actuators", 0, devices);
  const durationS = stringOption(p, "duration") !== undefined ? numberOption(p, "duration", 1, 86_400 * 365) : undefined;
  const stateDir = stringOption(p, "state-dir") ?? mkdtempSync(path.join(tmpdir(), "xsfleet-sim-"));
  const prefix = stringOption(p, "prefix") ?? "sim-";
  const claimsFile = stringOption(p, "claims");
  const claims = claimsFile ? claimsByDevice(claimsFile, simFleetIds(devices, prefix)) : undefined;
  const caFile = stringOption(p, "tls-ca");
  const status = liveStatus();
  status.log(`starting ${devices} simulated devices against ${brokers.join(", ")} (state in ${stateDir})${claims ? `; ${claims.size} with claims` : ""}`);
  const fleet = await startSimFleet({
    devices, actuators, brokerUrl: brokers, stateDir, idPrefix: prefix,
    speedup: numberOption(p, "speedup", 0.1, 10_000), heartbeatIntervalMs: intOption(p, "heartbeat-ms", 100, 3_600_000),
    rampMs: Math.min(5_000, devices * 20), fsync: false,
    ...(claims ? { claims } : {}), ...(caFile ? { tls: { ca: readFileSync(caFile) } } : {}),
  });
  const rates = new RateMeter();
  const timer = setInterval(() => {
    const s = fleet.stats();
    status.update(`devices ${s.connected}/${s.devices} connected | sent ${s.published} (${fmtRate(rates.rate("pub", s.published))} msg/s) | ` +
      `acked ${s.acked} | samples ${fmtRate(rates.rate("samples", s.samples))}/s | outbox ${s.outboxDepth} | dropped ${s.dropped}`);
  }, 1_000);
  await waitForSignalOrTimeout(durationS);
  clearInterval(timer);
  status.log("stopping fleet (clean disconnects)…");
  await fleet.stop();
  status.stop();
  return 0;
}
