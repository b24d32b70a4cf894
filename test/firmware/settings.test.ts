// Device settings from config as mcconfig gives them (strings on the command
// line, numbers in manifest JSON): converted, defaulted, validated, and a bad
// value is an error naming its key.
import { describe, expect, it } from "vitest";
import { Settings, deviceSettings } from "../../firmware/settings";
import { LogLevel } from "../../firmware/platform";

const settings = (c: Record<string, unknown>): Settings => new Settings((k) => c[k]);

describe("device settings", () => {
  it("reads a manifest-style config (numbers) and a command-line one (strings) the same way", () => {
    const json = deviceSettings(settings({ deviceId: "room-1", mqttHost: "10.0.0.2", mqttPort: 1884, heartbeatIntervalMs: 5000, role: "actuator" }));
    const cli = deviceSettings(settings({ deviceId: "room-1", mqttHost: "10.0.0.2", mqttPort: "1884", heartbeatIntervalMs: "5000", role: "actuator" }));
    expect(cli).toEqual(json);
    expect(json.init.brokerUrls).toEqual(["mqtt://10.0.0.2:1884"]);
    expect(json.init.role).toBe("actuator");
    expect(json.init.heartbeatIntervalMs).toBe(5000);
    expect(json.init.username).toBeUndefined();
    expect(json.storageDomain).toBe("xsfleet");
    expect(json.logLevel).toBe(LogLevel.Info);
  });

  it("defaults what is empty, as the manifest's \"\" placeholders are", () => {
    const s = deviceSettings(settings({ deviceId: "d", mqttHost: "h", mqttPort: "", mqttUsername: "", site: "", logLevel: "debug" }));
    expect(s.init.brokerUrls).toEqual(["mqtt://h:1883"]);
    expect(s.init.role).toBe("sensor");
    expect(s.init.location).toEqual({ site: "", zone: "", latitude: 0, longitude: 0 });
    expect(s.logLevel).toBe(LogLevel.Debug);
  });

  it("names the key that is missing or wrong", () => {
    expect(() => deviceSettings(settings({ mqttHost: "h" }))).toThrow(/config\.deviceId is required/);
    expect(() => deviceSettings(settings({ deviceId: "d" }))).toThrow(/config\.mqttHost is required/);
    expect(() => deviceSettings(settings({ deviceId: "d", mqttHost: "h", mqttPort: "x" }))).toThrow(/config\.mqttPort must be a number/);
    expect(() => deviceSettings(settings({ deviceId: "d", mqttHost: "h", mqttPort: 70000 }))).toThrow(/config\.mqttPort must be an integer in 1\.\.65535/);
    expect(() => deviceSettings(settings({ deviceId: "d", mqttHost: "h", role: "relay" }))).toThrow(/config\.role must be one of sensor, actuator, gateway, processing/);
    expect(() => deviceSettings(settings({ deviceId: "d", mqttHost: "h", children: "a,b c" }))).toThrow(/config\.children/);
    expect(deviceSettings(settings({ deviceId: "d", mqttHost: "h", role: "gateway", children: "a, b" })).edge).toEqual({ gatewayPort: 1884, children: ["a", "b"], gatewayHost: "", frameBytesMax: 4096, gatewayUrls: [] });
    expect(deviceSettings(settings({ deviceId: "d", gatewayHost: "10.0.0.9" })).edge.gatewayHost).toBe("10.0.0.9"); // a child needs no mqttHost
    // Two gateways: the second is where the child fails over to (docs/edge.md).
    expect(deviceSettings(settings({ deviceId: "d", gatewayHost: "10.0.0.9, 10.0.0.8:1999" })).edge.gatewayUrls).toEqual(["mqtt://10.0.0.9:1884", "mqtt://10.0.0.8:1999"]);
    expect(() => deviceSettings(settings({ deviceId: "d", gatewayHost: "a/b" }))).toThrow(/gatewayHost/);
    expect(() => deviceSettings(settings({ deviceId: "d", mqttHost: "h", gatewayPort: 0 }))).toThrow(/config\.gatewayPort/);
    expect(() => deviceSettings(settings({ deviceId: "d", mqttHost: "h", logLevel: "loud" }))).toThrow(/config\.logLevel/);
    expect(() => settings({ sensor: {} }).text("sensor")).toThrow(/config\.sensor must be a string/);
    expect(settings({ i2cAddress: "" }).has("i2cAddress")).toBe(false);
    expect(settings({ i2cAddress: "0x44" }).int("i2cAddress", 0, 8, 0x77)).toBe(0x44);
  });
});
