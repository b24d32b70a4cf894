// Many simulated devices in one process (see sim-device.ts for one).
//
//   const fleet = await startSimFleet({ devices: 50, brokerUrl, stateDir, speedup: 60 });
//   fleet.stats()   // totals + per device
//   fleet.devices[3].crash()
//   await fleet.stop()
//
// Device i is `${idPrefix}${i}` (zero-padded), its state in stateDir/<id>, a
// sensor unless `actuators` says otherwise, replaying room-climate series
// i mod n (every file split by NodeID). Starts are spread over `rampMs` so a
// fleet does not hit the broker in one burst.
import path from "node:path";
import { assertDeviceId } from "../../shared/topics";
import { roomClimateTraces } from "./room-climate";
import { startSimDevice, type SimDevice, type SimDeviceOptions, type SimDeviceStats } from "./sim-device";

/** Device ids of a fleet of `n` with this prefix, as startSimFleet names them. */
export function simFleetIds(n: number, prefix = "sim-"): string[] {
  const width = String(n - 1).length;
  return Array.from({ length: n }, (_, i) => assertDeviceId(prefix + String(i).padStart(width, "0")));
}

/** Devices one fleet may run (memory, sockets). */
export const fleetDevicesMax = 5000;

export interface SimFleetOptions extends Omit<SimDeviceOptions, "deviceId" | "stateDir" | "trace" | "role" | "seed" | "claim"> {
  devices: number;
  /** Root state directory; each device gets a subdirectory. */
  stateDir: string;
  /** Device id prefix (default "sim-"). */
  idPrefix?: string;
  /** How many of the devices are actuators (the last ones; default 0). */
  actuators?: number;
  /** Spread device starts over this many ms (default 0 = all at once). */
  rampMs?: number;
  /** Base seed; device i uses seed + i (default: random). */
  seed?: number;
  /** Claim token per device id: devices without a stored credential provision with it (docs/security.md). */
  claims?: ReadonlyMap<string, string>;
}

export interface SimFleetStats {
  devices: number;
  connected: number;
  published: number;
  /** PUBACKs (flow control). */
  acked: number;
  /** Outbox messages the cloud confirmed by receipt (forgotten by the devices). */
  confirmed: number;
  retransmits: number;
  outboxDepth: number;
  dropped: number;
  samples: number;
  batches: number;
  points: number;
  heartbeats: number;
  perDevice: SimDeviceStats[];
}

export interface SimFleet {
  readonly devices: SimDevice[];
  device(id: string): SimDevice | undefined;
  stats(): SimFleetStats;
  stop(): Promise<void>;
  crashAll(): void;
}

export async function startSimFleet(opts: SimFleetOptions): Promise<SimFleet> {
  const n = opts.devices;
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= fleetDevicesMax)) throw new Error(`devices must be 1..${fleetDevicesMax}, got ${n}`);
  const actuators = opts.actuators ?? 0;
  if (!(Number.isSafeInteger(actuators) && actuators >= 0 && actuators <= n)) throw new Error(`actuators must be 0..${n}, got ${actuators}`);
  const ids = simFleetIds(n, opts.idPrefix ?? "sim-");
  const traces = roomClimateTraces();
  const rampMs = opts.rampMs ?? 0;
  const { devices: _n, stateDir, idPrefix: _p, actuators: _a, rampMs: _r, seed, claims, ...common } = opts;
  const devices: SimDevice[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const deviceId = ids[i]!;
      const trace = traces[i % traces.length]!;
      const role = i >= n - actuators ? "actuator" : "sensor";
      const claim = claims?.get(deviceId);
      devices.push(await startSimDevice({
        ...common,
        deviceId,
        role,
        ...(claim !== undefined ? { claim } : {}),
        stateDir: path.join(stateDir, deviceId),
        trace: { rows: trace.rows, loop: true },
        fsync: opts.fsync ?? false,
        ...(seed !== undefined ? { seed: seed + i } : {}),
      }));
      if (rampMs > 0 && i < n - 1) await new Promise((r) => setTimeout(r, rampMs / n));
    }
  } catch (e) {
    for (const d of devices) d.crash();
    throw e;
  }
  const byId = new Map(devices.map((d) => [d.deviceId, d]));
  return {
    devices,
    device: (id) => byId.get(id),
    stats: () => {
      const perDevice = devices.map((d) => d.stats());
      const sum = (f: (s: SimDeviceStats) => number): number => perDevice.reduce((a, s) => a + f(s), 0);
      return {
        devices: devices.length, connected: sum((s) => (s.connected ? 1 : 0)), published: sum((s) => s.published),
        acked: sum((s) => s.acked), confirmed: sum((s) => s.confirmed), retransmits: sum((s) => s.retransmits),
        outboxDepth: sum((s) => s.outboxDepth), dropped: sum((s) => s.dropped),
        samples: sum((s) => s.samples), batches: sum((s) => s.batches), points: sum((s) => s.points), heartbeats: sum((s) => s.heartbeats), perDevice,
      };
    },
    stop: async () => {
      await Promise.all(devices.map((d) => d.stop()));
    },
    crashAll: () => {
      for (const d of devices) d.crash();
    },
  };
}
