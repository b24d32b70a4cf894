// Moddable-built firmware in tests: the SDK (scripts/ensure-moddable.sh,
// cached per SDK version), the lin builds of the role manifests (cached per
// input hash), one virtual display per test process, and devices started in
// mcsim with the given settings. Each device's trace stream is returned
// (lines, waitForLine), its state directory is its flash.
//
//   const fw = await moddableFirmware(["sensor", "actuator"]);
//   const dev = await startModdableDevice(fw, { role: "sensor", deviceId: "s-1", mqttUrl, stateDir, trace: rows });
//   await dev.waitForLine(/event .*"connected"/);
//   await dev.kill();                      // power loss; start again on stateDir = reboot
//   await stopModdable();                  // in afterAll: every device and the display
import path from "node:path";
import { buildFirmware, type FirmwareBuild } from "../../firmware/host/mcsim/build";
import { killAllMcsimProcesses, startMcsimDevice, type DeviceSettingValue, type McsimDevice } from "../../firmware/host/mcsim/device";
import { ensureModdableSdk, type ModdableSdk } from "../../firmware/host/mcsim/sdk";
import { startVirtualDisplay, type VirtualDisplay } from "../../firmware/host/mcsim/xvfb";
import type { TraceRow } from "../../firmware/sim/replay-source";

export type { McsimDevice };

/** A cold SDK + firmware build takes minutes; hooks that build use this timeout. */
export const moddableBuildTimeoutMs = 20 * 60_000;

export interface ModdableFirmware {
  sdk: ModdableSdk;
  builds: ReadonlyMap<string, FirmwareBuild>;
}

/** The SDK and the lin builds of `roles`, reused when nothing changed. */
export async function moddableFirmware(roles: readonly string[]): Promise<ModdableFirmware> {
  const log = (l: string): void => { if (!/^# /.test(l)) process.stderr.write(`${l}\n`); };
  const sdk = await ensureModdableSdk(log);
  const builds = new Map<string, FirmwareBuild>();
  for (const role of roles) builds.set(role, await buildFirmware({ role, target: "lin", sdk, log }));
  return { sdk, builds };
}

let display: Promise<VirtualDisplay> | undefined;
const started: McsimDevice[] = [];

/** Kills every device this test process started (also those a failed start left) and the display. */
export async function stopModdable(): Promise<void> {
  await Promise.all(started.splice(0).map((d) => d.kill()));
  killAllMcsimProcesses();
  const d = display;
  display = undefined;
  if (d) await (await d).stop();
}

export interface ModdableDeviceOptions {
  role: string;
  deviceId: string;
  /** mqtt://host:port of nats-server's MQTT listener. */
  mqttUrl: string;
  stateDir: string;
  /** More keys over mc/config (cadences, replaySpeedup, logLevel, heapReportMs, …). */
  settings?: Readonly<Record<string, DeviceSettingValue>>;
  /** Rows a sensor replays; omitted on a restart keeps the trace already in stateDir. */
  trace?: readonly TraceRow[];
  onLine?: (line: string) => void;
}

export async function startModdableDevice(fw: ModdableFirmware, o: ModdableDeviceOptions): Promise<McsimDevice> {
  const build = fw.builds.get(o.role);
  if (build?.mcSo === undefined) throw new Error(`no lin build for role ${o.role} (built: ${[...fw.builds.keys()].join(", ")})`);
  display ??= startVirtualDisplay();
  const u = new URL(o.mqttUrl);
  const dev = await startMcsimDevice({
    sdk: fw.sdk, mcSo: build.mcSo, display: (await display).display, stateDir: path.resolve(o.stateDir),
    settings: { deviceId: o.deviceId, role: o.role, mqttHost: u.hostname, mqttPort: Number(u.port || 1883), ...o.settings },
    ...(o.trace !== undefined ? { trace: o.trace } : {}),
    ...(o.onLine !== undefined ? { onLine: o.onLine } : {}),
  });
  started.push(dev);
  return dev;
}
