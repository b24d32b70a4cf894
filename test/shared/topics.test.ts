import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Uplink, assertDeviceId, deviceSubject, deviceTopic, isDeviceId, mqttTopicToSubject, parseDeviceAddress, subjectToMqttTopic,
} from "../../shared/topics";

describe("topic scheme", () => {
  it("maps MQTT topics to NATS subjects by replacing / with .", () => {
    expect(deviceTopic("s-1", Uplink.Telemetry)).toBe("xsfleet/v1/dev/s-1/tele");
    expect(mqttTopicToSubject(deviceTopic("s-1", Uplink.Telemetry))).toBe(deviceSubject("s-1", Uplink.Telemetry));
    expect(subjectToMqttTopic(deviceSubject("s_2", Uplink.Hello))).toBe(deviceTopic("s_2", Uplink.Hello));
  });

  it("accepts exactly [A-Za-z0-9_-]{1,64} as device ids", () => {
    for (const bad of ["", "a.b", "a b", "a/b", "a+b", "a#", "*", ">", "x".repeat(65), "é"]) {
      expect(isDeviceId(bad)).toBe(false);
      expect(() => assertDeviceId(bad)).toThrow(/invalid device id/);
    }
    fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), (id) => {
      expect(isDeviceId(id)).toBe(true);
      expect(parseDeviceAddress(deviceSubject(id, Uplink.Heartbeat))).toEqual({ deviceId: id, kind: "hb" });
      expect(parseDeviceAddress(deviceTopic(id, Uplink.Heartbeat))).toEqual({ deviceId: id, kind: "hb" });
    }));
  });

  it("returns null for subjects that are not device subjects", () => {
    expect(parseDeviceAddress("xsfleet.v1.dev.a.unknown")).toBeNull();
    expect(parseDeviceAddress("other.v1.dev.a.hb")).toBeNull();
    expect(parseDeviceAddress("xsfleet.v1.dev.a.b.hb")).toBeNull();
  });
});
