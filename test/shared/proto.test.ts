import { describe, expect, it } from "vitest";
import fc from "fast-check";
import protobuf from "protobufjs";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import {
  AckStatus, Role, createEnvelope, createHello, decodeEnvelope, encodeEnvelope, type Envelope,
} from "../../shared/proto/xsfleet.gen";
import { ProtoError, Reader, Writer, defaultDecodeLimits } from "../../shared/proto/wire";
import { utf8Decode, utf8Encode } from "../../shared/proto/utf8";

const reflected = protobuf.parse(readFileSync("shared/proto/xsfleet.proto", "utf8")).root.lookupType("xsfleet.v1.Envelope");

const sample: Envelope = createEnvelope({
  schemaVersion: 1,
  deviceId: "sensor-01",
  seq: 2 ** 40 + 7,
  deviceTimeMs: 1458031648545,
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  baggage: "site=lab,zone=ü",
  hello: createHello({
    role: Role.ROLE_SENSOR,
    capabilities: ["temperature", "humidity"],
    resources: { freeHeapBytes: 61234, flashTotalBytes: 4194304, flashFreeBytes: 1048576, cpuMhz: 240, cpuLoadCentiPct: 1234 },
    location: { site: "A", zone: "room-1", latitude: 49.87, longitude: -8.65 },
    firmwareVersion: "0.1.0",
    channels: [{ name: "temp", unit: "°C", resolution: 0.01 }],
  }),
});

describe("generated protobuf code", () => {
  it("is up to date with xsfleet.proto", () => {
    execFileSync("npx", ["tsx", "scripts/gen-proto.ts", "--check"], { stdio: "pipe" });
  });

  it("produces bytes that protobufjs reflection decodes to the same message, and vice versa", () => {
    const bytes = encodeEnvelope(sample);
    const viaReflection = reflected.toObject(reflected.decode(bytes), { longs: Number, enums: Number, defaults: false });
    expect(viaReflection.deviceId).toBe("sensor-01");
    expect(viaReflection.seq).toBe(2 ** 40 + 7);
    expect(viaReflection.hello.location.longitude).toBe(-8.65);
    expect(viaReflection.hello.channels[0].unit).toBe("°C");
    const back = reflected.encode(reflected.fromObject(viaReflection)).finish();
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
    expect(decodeEnvelope(bytes)).toEqual(sample);
  });

  it("round-trips negative sint32 and int32 values and 10-byte varints", () => {
    const env = createEnvelope({ heartbeat: { heartbeatSeq: 3, uptimeMs: 99, freeHeapBytes: 1, rssiDbm: -71, counterDigest: 0xdeadbeef, outboxDepth: 0, outboxDropped: 0, cpuLoadCentiPct: 0 } });
    expect(decodeEnvelope(encodeEnvelope(env)).heartbeat!.rssiDbm).toBe(-71);
    const w = new Writer(10);
    w.varint(-1);
    expect(new Reader(w.finish(), defaultDecodeLimits).int32()).toBe(-1);
  });

  it("skips unknown fields, so old readers accept newer writers", () => {
    const withUnknown = new Uint8Array([...encodeEnvelope(sample), 0xf8, 0x07, 0x05, 0x9a, 0x08, 0x02, 0x41, 0x42]);
    expect(decodeEnvelope(withUnknown)).toEqual(sample);
  });

  it("keeps an acknowledgement's enum value", () => {
    const env = createEnvelope({ commandAck: { commandId: "c1", status: AckStatus.ACK_STATUS_OK, message: "", resultJson: "", duplicate: true } });
    expect(decodeEnvelope(encodeEnvelope(env)).commandAck).toEqual(env.commandAck);
  });

  it("rejects oversized fields and too many repeated elements with a ProtoError", () => {
    const big = encodeEnvelope(createEnvelope({ deviceId: "x".repeat(300) }));
    expect(() => decodeEnvelope(big, { ...defaultDecodeLimits, fieldBytesMax: 100 })).toThrow(ProtoError);
    const many = encodeEnvelope(createEnvelope({ hello: createHello({ capabilities: Array.from({ length: 20 }, (_, i) => `c${i}`) }) }));
    expect(() => decodeEnvelope(many, { ...defaultDecodeLimits, repeatedMax: 10 })).toThrow(/more than 10/);
  });

  it("never throws anything but ProtoError on random or mangled bytes", () => {
    const valid = encodeEnvelope(sample);
    fc.assert(
      fc.property(fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = valid.slice(); b[i]! ^= x; return b; }),
        fc.nat(valid.length - 1).map((n) => valid.slice(0, n)),
      ), (bytes) => {
        try {
          decodeEnvelope(bytes);
        } catch (e) {
          if (!(e instanceof ProtoError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("encodes UTF-8 like the platform, including surrogate pairs", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => {
      const ours = utf8Encode(s);
      expect(Buffer.from(ours).equals(Buffer.from(s, "utf8"))).toBe(true);
      expect(utf8Decode(ours)).toBe(s);
    }));
  });

  it("round-trips arbitrary envelopes", () => {
    const arb = fc.record({
      deviceId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
      seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      deviceTimeMs: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      traceparent: fc.string(),
      rssi: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    });
    fc.assert(fc.property(arb, (a) => {
      const env = createEnvelope({ deviceId: a.deviceId, seq: a.seq, deviceTimeMs: a.deviceTimeMs, traceparent: a.traceparent,
        heartbeat: { heartbeatSeq: 1, uptimeMs: a.seq, freeHeapBytes: 0, rssiDbm: a.rssi, counterDigest: 0, outboxDepth: 0, outboxDropped: 0, cpuLoadCentiPct: 0 } });
      expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
    }));
  });
});

describe("hostile lengths", () => {
  it("refuses a negative length (a 64-bit varint) instead of decoding forever; found by the ingest fuzz", () => {
    // Field 20 (LEN) with length varint 0xfffffffffffffff4 (-12 as int64).
    const bytes = new Uint8Array([0xa2, 0x01, 0xf4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(() => decodeEnvelope(bytes)).toThrow(ProtoError);
  });
});
