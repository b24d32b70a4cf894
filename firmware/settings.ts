// Device settings from key/value config: the manifest's `config` (the frozen
// `mc/config` module, set at build time with `mcconfig … key=value`), which
// the lin simulator overlays with a provisioning file per process. Values may
// be strings (command line) or numbers/booleans (manifest JSON); each getter
// converts and validates, naming the key in its error.
import { DeviceRole } from "../shared/device-role";
import { isDeviceId } from "../shared/topics";
import type { DeviceOptionsInit } from "./device/options";
import { LogLevel } from "./platform";

export type ConfigLookup = (key: string) => unknown;

export class Settings {
  readonly #lookup: ConfigLookup;

  constructor(lookup: ConfigLookup) {
    this.#lookup = lookup;
  }

  has(key: string): boolean {
    const v = this.#lookup(key);
    return v !== undefined && v !== "";
  }

  /** A string; `fallback` when unset, an error when unset and no fallback. */
  text(key: string, fallback?: string): string {
    const v = this.#lookup(key);
    if (v === undefined || v === "") {
      if (fallback !== undefined) return fallback;
      throw new Error(`config.${key} is required (mcconfig … ${key}=…)`);
    }
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") throw new Error(`config.${key} must be a string`);
    return String(v);
  }

  /** A finite number; `fallback` when unset. */
  number(key: string, fallback: number): number {
    const v = this.#lookup(key);
    if (v === undefined || v === "") return fallback;
    const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
    if (!Number.isFinite(n)) throw new Error(`config.${key} must be a number, got ${JSON.stringify(v)}`);
    return n;
  }

  /** An integer in [min, max]; `fallback` when unset. */
  int(key: string, fallback: number, min: number, max: number): number {
    const n = this.number(key, fallback);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`config.${key} must be an integer in ${min}..${max}, got ${n}`);
    return n;
  }

  /** One of `choices`; `fallback` when unset. */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const v = this.text(key, fallback);
    if (!(choices as readonly string[]).includes(v)) throw new Error(`config.${key} must be one of ${choices.join(", ")}, got ${JSON.stringify(v)}`);
    return v as T;
  }
}

export const logLevelNames = Object.freeze(["debug", "info", "warn", "error"] as const);

/** What the device runtime needs from config; platform keys are read by the board. */
export interface DeviceSettings {
  init: DeviceOptionsInit;
  /** One-time provisioning claim (`xsfleet claims create`), exchanged on first boot for the device's credential; "" = none. */
  claim: string;
  storageDomain: string;
  logLevel: LogLevel;
  /** The star (docs/edge.md): a gateway's listening port and children; a child's gateway host ("" = not a child). */
  edge: { gatewayPort: number; children: string[]; gatewayHost: string; frameBytesMax: number; gatewayUrls: string[] };
}

export function deviceSettings(s: Settings): DeviceSettings {
  const role = s.choice("role", [DeviceRole.Sensor, DeviceRole.Actuator, DeviceRole.Gateway, DeviceRole.Processing], DeviceRole.Sensor);
  // A child's gateways: "host" or "host:port", comma-separated; the session tries them in turn on reconnect (failover, docs/edge.md).
  const gatewayHosts = s.text("gatewayHost", "").split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  const gatewayHost = gatewayHosts.length > 0 ? gatewayHosts[0]!.split(":")[0]! : "";
  // A child of a star has no broker of its own (boot.ts points it at the gateway).
  const mqttHost = gatewayHost !== "" ? s.text("mqttHost", gatewayHost) : s.text("mqttHost");
  const username = s.text("mqttUsername", "");
  const password = s.text("mqttPassword", "");
  const init: DeviceOptionsInit = {
    deviceId: s.text("deviceId"),
    role,
    // mqttTls: the broker's certificate is checked against the CA the manifest carries (docs/security.md).
    brokerUrls: [`${s.choice("mqttTls", ["false", "true"], "false") === "true" ? "mqtts" : "mqtt"}://${mqttHost}:${s.int("mqttPort", 1883, 1, 65_535)}`],
    ...(username !== "" ? { username } : {}),
    ...(password !== "" ? { password } : {}),
    firmwareVersion: s.text("firmwareVersion", "0.1.0"),
    heartbeatIntervalMs: s.number("heartbeatIntervalMs", 10_000),
    sampleIntervalMs: s.number("sampleIntervalMs", 1_000),
    batchPointsMax: s.number("batchPointsMax", 32),
    batchAgeMaxMs: s.number("batchAgeMaxMs", 30_000),
    keepaliveS: s.number("keepaliveS", 30),
    location: { site: s.text("site", ""), zone: s.text("zone", ""), latitude: s.number("latitude", 0), longitude: s.number("longitude", 0) },
  };
  const level = s.choice("logLevel", logLevelNames, "info");
  const children = s.text("children", "").split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  for (const c of children) if (!isDeviceId(c)) throw new Error(`config.children must be comma-separated device ids, got ${JSON.stringify(c)}`);
  // A gateway holds one partial frame per child: RAM bounds this; children's largest message must stay below it.
  const gatewayPort = s.int("gatewayPort", 1884, 1, 65_535);
  const gatewayUrls: string[] = [];
  for (const h of gatewayHosts) {
    if (!/^[^/:\s]+(:[0-9]{1,5})?$/.test(h)) throw new Error(`config.gatewayHost must be comma-separated host or host:port, got ${JSON.stringify(h)}`);
    gatewayUrls.push(h.indexOf(":") >= 0 ? `mqtt://${h}` : `mqtt://${h}:${gatewayPort}`);
  }
  const edge = { gatewayPort, children, gatewayHost, frameBytesMax: s.int("gatewayFrameBytesMax", 4096, 1024, 65_552), gatewayUrls };
  return { init, claim: s.text("claim", ""), storageDomain: s.text("storageDomain", "xsfleet"), logLevel: logLevelNames.indexOf(level) as LogLevel, edge };
}
