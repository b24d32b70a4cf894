// Per-process settings for the lin simulator. mc/config is fixed when the
// app is built, and one build runs as many simulated devices, so each mcsim
// process reads `xsfleet-device.json` from its working directory (its
// "flash", where Preference keeps modpreferences.json too) and overlays its
// keys on mc/config: deviceId, mqttHost, mqttPort, traceFile, cadences, …
// A missing file means mc/config alone; a malformed one is an error that
// names the file (the device must not start with half its identity).
import { File } from "file";

export const provisioningFile = "xsfleet-device.json";
/** Larger files are refused before parsing. */
export const provisioningBytesMax = 16 * 1024;

export function readProvisioning(root: string): Readonly<Record<string, unknown>> {
  const path = root + provisioningFile;
  if (!File.exists(path)) return Object.freeze({});
  const file = new File(path);
  let text: string;
  try {
    if (file.length > provisioningBytesMax) throw new Error(`${path} is ${file.length} bytes > ${provisioningBytesMax}`);
    text = file.read(String);
  } finally {
    file.close();
  }
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${path} must hold a JSON object`);
  return Object.freeze(parsed as Record<string, unknown>);
}
