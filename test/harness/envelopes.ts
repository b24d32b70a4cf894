// Encoded device Envelopes of every uplink kind, deterministic, for tests
// and benchmarks that play devices without the firmware runtime (ingest
// tests, the fleet-scale benchmark's light clients).
import { encodeBatch } from "../../shared/codec/batch";
import { atResolution } from "../../shared/codec/resolution";
import { GCounter } from "../../shared/crdt/gcounter";
import {
  CounterKind,
  Encoding,
  Presence,
  Role,
  createEnvelope,
  type Envelope,
} from "../../shared/proto/xsfleet.gen";
import { Uplink } from "../../shared/topics";

export const testChannels = [
  { name: "temperature", unit: "C", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.1 },
];

/** Deterministic value of channel c at point i of batch seq. */
export function valueAt(seq: number, i: number, c: number): number {
  const raw = c === 0 ? 20 + ((seq * 7 + i) % 500) / 100 : 40 + ((seq * 3 + i) % 200) / 10;
  return atResolution(raw, testChannels[c]!.resolution);
}

export function timeAt(seq: number, i: number, baseMs = 1_700_000_000_000): number {
  return baseMs + seq * 10_000 + i * 10;
}

export function telemetryEnvelope(deviceId: string, seq: number, points = 10, baseMs?: number): Envelope {
  const ts = Array.from({ length: points }, (_, i) => timeAt(seq, i, baseMs));
  const payload = encodeBatch({
    t0Ms: ts[0] ?? 0,
    timestampsMs: ts,
    channels: testChannels.map((ch, c) => ({ resolution: ch.resolution, values: ts.map((_, i) => valueAt(seq, i, c)) })),
  }, { pointsMax: 100_000 });
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: ts[points - 1] ?? 0,
    traceparent: `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`,
    telemetry: {
      batchSeq: seq, channels: testChannels, encoding: Encoding.ENCODING_XSF_TS1, payload, pointCount: points,
      firstTimeMs: ts[0] ?? 0, lastTimeMs: ts[points - 1] ?? 0,
    },
  });
}

export function helloEnvelope(deviceId: string, seq: number, heartbeatIntervalMs = 1_000): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    hello: {
      role: Role.ROLE_SENSOR, capabilities: ["telemetry"], resources: undefined, location: undefined, firmwareVersion: "test-1",
      bootCount: 1, channels: testChannels, heartbeatIntervalMs,
    },
  });
}

export function heartbeatEnvelope(deviceId: string, seq: number, heartbeatSeq: number): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    heartbeat: { heartbeatSeq, uptimeMs: heartbeatSeq * 1000, freeHeapBytes: 50_000, rssiDbm: -60, counterDigest: 0, outboxDepth: 0, outboxDropped: 0, cpuLoadCentiPct: 100 },
  });
}

export function statusEnvelope(deviceId: string, seq: number, online: boolean): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    status: { presence: online ? Presence.PRESENCE_ONLINE : Presence.PRESENCE_OFFLINE, reason: online ? "connected" : "will" },
  });
}

export function counterEnvelope(deviceId: string, seq: number, counts: Record<string, number>): Envelope {
  return createEnvelope({
    schemaVersion: 1, deviceId, seq, deviceTimeMs: Date.now(),
    counters: { counters: [{ name: "events", kind: CounterKind.COUNTER_KIND_G, state: GCounter.from(counts).encode() }], delta: false },
  });
}

export function kindOf(env: Envelope): Uplink {
  if (env.telemetry) return Uplink.Telemetry;
  if (env.heartbeat) return Uplink.Heartbeat;
  if (env.hello) return Uplink.Hello;
  if (env.status) return Uplink.Status;
  if (env.counters) return Uplink.Counters;
  throw new Error("kindOf: no uplink body");
}

