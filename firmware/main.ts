// ESP32 entry (mcconfig): builds the Platform from Moddable modules and
// starts the device runtime. Wi-Fi is brought up before this runs by the
// `setup/network` module of manifest_net.json from config.ssid/password.
// Config keys (manifest `config`, or `mcconfig ... key=value`): see
// docs/firmware.md.
import Timer from "timer";
import { connect } from "mqtt/js";
import config from "mc/config";
import Instrumentation from "instrumentation";
import type { MqttConnect, MqttOptions, Platform, ResourceProbe, Timers } from "./platform";
import { LogLevel } from "./platform";
import { DeviceRuntime } from "./device/runtime";
import { startWithCredential } from "./device/provisioning";
import { PreferenceStorage } from "./esp32/preference-storage";
import { SyntheticClimateSensor } from "./esp32/climate-sensor";

// Nothing runs at module top level: this module is preloaded into flash at
// build time, so a Date.now() here would be the build machine's clock.

function timers(): Timers {
  return {
    set: (cb, delayMs) => Timer.set(cb, delayMs),
    repeat: (cb, intervalMs) => Timer.repeat(cb, intervalMs),
    clear: (id) => Timer.clear(id as Timer),
  };
}

function resources(): ResourceProbe {
  const freeIndex = Instrumentation.map("System Free Memory");
  return {
    freeHeapBytes: () => (freeIndex !== undefined ? Instrumentation.get(freeIndex) ?? 0 : 0),
    flashTotalBytes: () => Number(config.flashTotalBytes ?? 4 * 1024 * 1024),
    flashFreeBytes: () => 0,
    cpuMhz: () => 240,
    rssiDbm: () => 0,
  };
}

function mqttConnect(url: string, options: MqttOptions): ReturnType<MqttConnect> {
  return connect(url, options);
}

function str(key: string, fallback?: string): string {
  const v = config[key];
  if (v === undefined || v === "") {
    if (fallback !== undefined) return fallback;
    throw new Error(`config.${key} is required (mcconfig ... ${key}=...)`);
  }
  return String(v);
}

function num(key: string, fallback: number): number {
  const v = config[key];
  return v === undefined || v === "" ? fallback : Number(v);
}

export default function main(): void {
  const role = str("role", "sensor") === "actuator" ? "actuator" : "sensor";
  // Uptime from the monotonic-enough boot reference; wall time is SNTP-set by setup/network.
  const bootMs = Date.now();
  const platform: Platform = {
    timers: timers(),
    clock: { uptimeMs: () => Date.now() - bootMs, wallMs: () => Date.now() },
    storage: new PreferenceStorage(str("storageDomain", "xsfleet")),
    random: { u32: () => Math.floor(Math.random() * 4294967296) >>> 0 },
    log: (level, message) => { if (level >= LogLevel.Info) trace(`xsfleet: ${message}\n`); },
    resources: resources(),
    mqttConnect,
    ...(role === "sensor" ? { sensor: new SyntheticClimateSensor() } : {}),
  };
  const username = config.mqttUsername === undefined || config.mqttUsername === "" ? undefined : String(config.mqttUsername);
  const password = config.mqttPassword === undefined || config.mqttPassword === "" ? undefined : String(config.mqttPassword);
  const deviceId = str("deviceId");
  // mqttTls: the broker's certificate is checked against the CA the manifest carries (docs/security.md).
  const brokerUrls = [`${config.mqttTls === true || config.mqttTls === "true" ? "mqtts" : "mqtt"}://${str("mqttHost")}:${num("mqttPort", 1883)}`];
  // A claim (config.claim) is exchanged for the device's own credential on first boot, kept in flash.
  startWithCredential(platform, { deviceId, brokerUrls, claim: str("claim", "") }, (auth) => startRuntime(platform, role, deviceId, brokerUrls, auth ?? { username, password }));
}

function startRuntime(platform: Platform, role: "sensor" | "actuator", deviceId: string, brokerUrls: string[], auth: { username?: string | undefined; password?: string | undefined }): void {
  const runtime = new DeviceRuntime(platform, {
    deviceId,
    role,
    brokerUrls,
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    ...(auth.password !== undefined ? { password: auth.password } : {}),
    firmwareVersion: str("firmwareVersion", "0.1.0"),
    heartbeatIntervalMs: num("heartbeatIntervalMs", 10_000),
    sampleIntervalMs: num("sampleIntervalMs", 1_000),
    batchPointsMax: num("batchPointsMax", 32),
    location: { site: str("site", ""), zone: str("zone", ""), latitude: num("latitude", 0), longitude: num("longitude", 0) },
  });
  runtime.start();
}
