// Entry on the lin simulator (mcsim; manifests/lin/main.js re-exports it,
// chosen by the manifest's `platforms.lin`): the same boot as on the ESP32
// with the simulator's board — Preference (a JSON file in the working
// directory), a room-climate replay from a trace file, an output that only
// records, XS heap figures from Instrumentation — and settings from mc/config
// overlaid by the working directory's xsfleet-device.json.
//
// Diagnostics for benchmarks: config `heapReportMs` > 0 traces the XS heap
// after a full GC every that many ms ("xsfleet: heap {…}").
import config from "mc/config";
import Timer from "timer";
import Debug from "debug";
import { bootDevice } from "../boot";
import { DeviceRole } from "../../shared/device-role";
import { PreferenceStorage } from "../moddable/preference-storage";
import type { ActuatorOutput } from "../platform";
import { ReplaySource, roomClimateChannels } from "../sim/replay-source";
import { Settings, deviceSettings } from "../settings";
import { readProvisioning } from "./provisioning";
import { LinResources } from "./resources";
import ignoreSigpipe from "./sigpipe";
import { FileTraceTable } from "./trace-file";

function recordingOutput(): ActuatorOutput {
  return {
    write(value: number): void {
      if (!Number.isFinite(value)) throw new RangeError(`output value ${value}`);
      trace(`xsfleet: output ${value}\n`);
    },
  };
}

export default function main(): void {
  ignoreSigpipe();
  const root = String(config.file.root);
  const provisioned = readProvisioning(root);
  const settings = new Settings((key) => (key in provisioned ? provisioned[key] : config[key]));
  const device = deviceSettings(settings);
  const resources = new LinResources(settings);
  const sensor = device.init.role === DeviceRole.Sensor
    ? new ReplaySource(roomClimateChannels, new FileTraceTable(root + settings.text("traceFile", "trace.bin")), {
      startMs: Date.now(), speedup: settings.number("replaySpeedup", 1), loop: true,
    })
    : undefined;
  bootDevice(device, {
    storage: new PreferenceStorage(device.storageDomain),
    resources,
    ...(sensor !== undefined ? { sensor } : { actuator: recordingOutput() }),
  });
  const heapReportMs = settings.int("heapReportMs", 0, 0, 3_600_000);
  if (heapReportMs > 0) {
    Timer.repeat(() => {
      Debug.gc();
      trace(`xsfleet: heap ${JSON.stringify(resources.heapUse())}\n`);
    }, heapReportMs);
  }
}
