import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Downlink, Uplink, assertDeviceId, deviceSubject, deviceTopic, devicePartition, isDeviceId, mqttTopicToSubject, parseDeviceAddress,
  partitionedDeviceSubject, partitionsMax, subjectToMqttTopic,
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

describe("partitions (nats-server's {{partition(n,1)}} mapping)", () => {
  it("puts a device where nats-server 2.9.10 does (value observed from a real 2.9.10 cluster)", () => {
    // d1 → 6 of 16 was read off a 3-node 2.9.10 cluster mapping MQTT publishes;
    // test/cloud/ingest checks the mapping against a live server.
    expect(devicePartition("d1", 16)).toBe(6);
    expect(partitionedDeviceSubject("d1", Uplink.Telemetry, 16)).toBe("xsfleet.v1.p.6.dev.d1.tele");
  });
  it("spreads ids over every partition and refuses a bad partition count", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(devicePartition(`dev-${i}`, 16));
    expect(seen.size).toBe(16);
    expect(() => devicePartition("d1", 0)).toThrow(/partitions must be/);
    expect(() => devicePartition("d1", partitionsMax + 1)).toThrow(/partitions must be/);
  });
  it("parses partitioned subjects and the receipt topic", () => {
    expect(parseDeviceAddress("xsfleet.v1.p.6.dev.d1.tele")).toEqual({ deviceId: "d1", kind: "tele" });
    expect(parseDeviceAddress("xsfleet/v1/dev/d1/rcpt")).toEqual({ deviceId: "d1", kind: Downlink.Receipt });
    expect(parseDeviceAddress("xsfleet.v1.p.x.dev.d1.tele")).toBeNull();
  });
});
