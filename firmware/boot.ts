// Starts a device on the Moddable platform (ESP32 or the lin simulator): the
// Moddable modules every target has (timer, time, mqtt/js) fill the platform
// seam, the board (firmware/esp32/main.ts or firmware/lin/main.ts, chosen by
// the manifest's `platforms` section) brings storage, sensors, outputs and
// resource probes, and the settings come from config.
//
// Nothing runs at module top level: this module is preloaded into flash at
// build time, so a Date.now() here would be the build machine's clock.
import Timer from "timer";
import Time from "time";
import { Client } from "mqtt/js";
import type { ActuatorOutput, MqttClient, MqttOptions, Platform, ResourceProbe, SensorSource, Storage, Timers } from "./platform";
import { LogLevel } from "./platform";
import { DeviceRuntime } from "./device/runtime";
import { startWithCredential } from "./device/provisioning";
import type { DeviceSettings } from "./settings";
import { Gateway } from "./edge/gateway";
import { linkMqttConnect } from "./edge/link-client";
import { socketLinks } from "./moddable/socket-links";

/** What a target brings; everything else is common to all Moddable targets. */
export interface Board {
  storage: Storage;
  resources: ResourceProbe;
  sensor?: SensorSource;
  actuator?: ActuatorOutput;
}

const moddableTimers: Timers = Object.freeze({
  set: (cb: () => void, delayMs: number) => Timer.set(cb, delayMs),
  repeat: (cb: () => void, intervalMs: number) => Timer.repeat(cb, intervalMs),
  clear: (id: unknown) => Timer.clear(id as Timer),
});

// mqtt/js also exports connect(url, options), which only calls this
// constructor; the SDK's typings declare the class, not the function.
function mqttConnect(url: string, options: MqttOptions): MqttClient {
  return new Client(url, options);
}

/**
 * Starts the device: with a stored credential (or none needed) at once; with
 * a new claim after exchanging it for the device's own credential
 * (firmware/device/provisioning.ts, docs/security.md).
 */
export function bootDevice(settings: DeviceSettings, board: Board): void {
  const bootTicks = Time.ticks;
  const threshold = settings.logLevel;
  const platform: Platform = {
    timers: moddableTimers,
    // Time.ticks is monotonic; the wall clock is what SNTP (ESP32) or the host (lin) set.
    clock: { uptimeMs: () => Time.ticks - bootTicks, wallMs: () => Date.now() },
    storage: board.storage,
    random: { u32: () => Math.floor(Math.random() * 4294967296) >>> 0 },
    log: (level, message) => { if (level >= threshold) trace(`xsfleet: ${message}\n`); },
    resources: board.resources,
    mqttConnect,
    ...(board.sensor !== undefined ? { sensor: board.sensor } : {}),
    ...(board.actuator !== undefined ? { actuator: board.actuator } : {}),
  };
  let init = settings.init;
  const edge = settings.edge;
  let gateway: Gateway | undefined;
  if (edge.gatewayHost !== "") {
    // A child of a star: no broker of its own, its "broker" is the gateway over a TCP link (docs/edge.md).
    platform.mqttConnect = linkMqttConnect(socketLinks(), moddableTimers, platform.clock);
    init = { ...init, brokerUrls: edge.gatewayUrls };
  } else if (init.role === "gateway" || init.role === "processing") {
    const links = socketLinks();
    // config.gatewayFrameBytesMax (4 KB): the device's RAM bounds the partial frames it may hold (docs/edge.md).
    gateway = new Gateway({ ...platform, links }, { gatewayId: init.deviceId, port: edge.gatewayPort, allow: edge.children, frameBytesMax: edge.frameBytesMax });
    platform.links = links;
    platform.mqttConnect = gateway.upstream(mqttConnect);
  }
  const gw = gateway;
  const options = init;
  startWithCredential(platform, { deviceId: options.deviceId, brokerUrls: options.brokerUrls, claim: settings.claim }, (auth) => {
    const withAlerts = gw !== undefined ? { ...options, extraCounters: () => gw.alertCounters() } : options;
    const runtime = new DeviceRuntime(platform, auth !== null ? { ...withAlerts, ...auth } : withAlerts, (e) => {
      if (gw !== undefined && e.type === "config" && e.settingsChanged) gw.applySettings(runtime.settings());
      if (threshold <= LogLevel.Debug || e.type === "connected" || e.type === "command") trace(`xsfleet: event ${JSON.stringify(e)}\n`);
    });
    if (gw !== undefined) {
      // The allow-list and edge jobs of the configuration the node persisted (its shadow), before children may join.
      gw.applySettings(runtime.settings());
      gw.start();
      // Raised alerts of rules jobs go up as counters, at most once a second.
      let due = false;
      gw.onAlerts = () => {
        if (due) return;
        due = true;
        platform.timers.set(() => { due = false; runtime.publishCounters(); }, 1_000);
      };
    }
    runtime.start();
    platform.log(LogLevel.Info, `started ${options.role} ${options.deviceId}`);
  });
}
