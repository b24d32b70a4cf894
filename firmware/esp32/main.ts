// ESP32 entry (manifests/esp32/main.js re-exports it; chosen by the
// manifest's `platforms.esp32`): settings from mc/config, storage in NVS via
// Preference, a climate sensor or an output driver, and resources read from
// the chip. Wi-Fi and SNTP are brought up before this runs by the
// `setup/network` module of manifest_net.json (config ssid/password/sntp).
import config from "mc/config";
import { bootDevice } from "../boot";
import { DeviceRole } from "../../shared/device-role";
import { PreferenceStorage } from "../moddable/preference-storage";
import { Settings, deviceSettings } from "../settings";
import { ClimateSensor } from "./climate-sensor";
import { actuatorOutput } from "./output";
import { Esp32Resources } from "./resources";

export default function main(): void {
  const settings = new Settings((key) => config[key]);
  const device = deviceSettings(settings);
  bootDevice(device, {
    storage: new PreferenceStorage(device.storageDomain),
    resources: new Esp32Resources(settings),
    ...(device.init.role === DeviceRole.Sensor ? { sensor: new ClimateSensor(settings) } : { actuator: actuatorOutput(settings) }),
  });
}
