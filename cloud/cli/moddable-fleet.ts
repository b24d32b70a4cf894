// `xsfleet up --moddable N`: N more devices of the simulated fleet run as the
// firmware the Moddable SDK builds (mcconfig, lin), each in its own mcsim
// process under one virtual display, replaying room-climate series like the
// host-port fleet (from the last series backwards, so a small fleet does not
// replay what sim-00… replay). They are registered like the others, so the registry,
// status line and dashboard show them alongside. Their state (flash) and
// trace logs live in <stateDir>/<id>/ (mcsim.log).
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { buildFirmware } from "../../firmware/host/mcsim/build";
import { startMcsimDevice, type McsimDevice } from "../../firmware/host/mcsim/device";
import { ensureModdableSdk } from "../../firmware/host/mcsim/sdk";
import { startVirtualDisplay, type VirtualDisplay } from "../../firmware/host/mcsim/xvfb";
import { roomClimateTraces } from "../../firmware/host/room-climate";

/** Simulator processes one `up` may run (each is a GTK process with its own XS machine). */
export const moddableDevicesMax = 32;
export const moddableIdPrefix = "mcsim-";

export interface ModdableFleetOptions {
  count: number;
  /** Lets the devices in: registers them (open broker, resolves null) or makes their one-time claims (secured: device id → claim token). */
  admit(ids: readonly string[]): Promise<Map<string, string> | null>;
  mqttUrl: string;
  stateDir: string;
  speedup: number;
  heartbeatIntervalMs: number;
  log: (message: string) => void;
}

export interface ModdableFleet {
  readonly ids: readonly string[];
  /** Devices whose last session event was "connected". */
  connected(): number;
  stop(): Promise<void>;
}

export async function startModdableFleet(o: ModdableFleetOptions): Promise<ModdableFleet> {
  if (!(Number.isSafeInteger(o.count) && o.count >= 1 && o.count <= moddableDevicesMax)) throw new Error(`--moddable must be 1..${moddableDevicesMax}, got ${o.count}`);
  const sdk = await ensureModdableSdk((l) => o.log(l.replace(/^\[moddable\] /, "moddable: ")));
  const build = await buildFirmware({ role: "sensor", target: "lin", sdk, log: (l) => { if (l.startsWith("[firmware] ")) o.log(l.replace("[firmware] ", "moddable: ")); } });
  const width = String(o.count - 1).length;
  const ids = Array.from({ length: o.count }, (_, i) => moddableIdPrefix + String(i).padStart(width, "0"));
  const claims = await o.admit(ids);
  o.log(`moddable: ${ids.length} devices ${claims ? "with one-time claims (they provision themselves)" : "registered"}; starting them in mcsim …`);
  const display: VirtualDisplay = await startVirtualDisplay();
  const traces = roomClimateTraces();
  const u = new URL(o.mqttUrl);
  const devices: McsimDevice[] = [];
  const connected = new Map<string, boolean>();
  try {
    for (const [i, id] of ids.entries()) {
      const dir = path.join(o.stateDir, id);
      mkdirSync(dir, { recursive: true });
      const logFile = path.join(dir, "mcsim.log");
      devices.push(await startMcsimDevice({
        sdk, mcSo: build.mcSo!, display: display.display, stateDir: dir, trace: traces[(traces.length - 1 - (i % traces.length))]!.rows,
        settings: {
          deviceId: id, role: "sensor", mqttHost: u.hostname, mqttPort: Number(u.port || 1883), heartbeatIntervalMs: o.heartbeatIntervalMs, replaySpeedup: o.speedup,
          ...(claims?.get(id) ? { claim: claims.get(id)! } : {}),
        },
        onLine: (line) => {
          appendFileSync(logFile, line + "\n");
          const m = /^xsfleet: event \{"type":"(connected|disconnected)"/.exec(line);
          if (m) connected.set(id, m[1] === "connected");
        },
      }));
    }
  } catch (e) {
    await Promise.all(devices.map((d) => d.kill()));
    await display.stop();
    throw e;
  }
  return {
    ids,
    connected: () => [...connected.values()].filter(Boolean).length,
    stop: async () => {
      await Promise.all(devices.map((d) => d.stop()));
      await display.stop();
    },
  };
}
