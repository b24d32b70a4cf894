// Real traces: every room-climate series (split per node) round-trips exactly
// at the sensors' declared resolutions, alone and as a multi-channel batch,
// and the size stays within the targets (a regression guard; the benchmark,
// `npm run bench:codec`, measures the ratios properly).
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeBatch, decodeSeries, encodeBatch, encodeSeries } from "../../shared/codec/index";
import { channelOf, loadRoomClimate, roomClimateResolution, type RoomClimateChannel } from "../../firmware/host/room-climate";

const series = loadRoomClimate();
const channels: RoomClimateChannel[] = ["temp", "humidity", "light1", "light2"];
const singleChannels: RoomClimateChannel[] = ["temp", "humidity"];

/** Raw binary baseline: int64 timestamp + float64 value per point, little endian. */
function rawPoints(timestampsMs: number[], values: number[]): Uint8Array {
  const out = new DataView(new ArrayBuffer(timestampsMs.length * 16));
  timestampsMs.forEach((t, i) => {
    out.setBigInt64(i * 16, BigInt(t), true);
    out.setFloat64(i * 16 + 8, values[i]!, true);
  });
  return new Uint8Array(out.buffer);
}

describe("room-climate traces", () => {
  it("loads every file split per node", () => {
    expect(series.length).toBeGreaterThanOrEqual(30);
    for (const s of series) expect(s.samples.length).toBeGreaterThan(100);
  });

  // One pass over every series: each channel alone, and temperature +
  // humidity as one batch (whose size is also checked against the targets).
  const sizes = { bytes: 0, deflated: 0, points: 0 };

  it("round-trips every temp and humidity series exactly, alone and as a 2-channel batch", () => {
    for (const s of series) {
      for (const channel of singleChannels) {
        const c = channelOf(s, channel);
        const back = decodeSeries(encodeSeries(c));
        expect(back.timestampsMs, s.id).toEqual(c.timestampsMs);
        expect(back.values, s.id).toEqual(c.values);
      }
      const ts = s.samples.map((p) => p.tMs);
      const temp = s.samples.map((p) => p.temp);
      const hum = s.samples.map((p) => p.humidity);
      const batch = { t0Ms: ts[0]!, timestampsMs: ts, channels: [{ values: temp, resolution: 0.01 }, { values: hum, resolution: 0.001 }] };
      const bytes = encodeBatch(batch);
      expect(decodeBatch(bytes), s.id).toEqual(batch);
      sizes.bytes += bytes.length;
      sizes.deflated += deflateRawSync(rawPoints(ts, temp), { level: 9 }).length + deflateRawSync(rawPoints(ts, hum), { level: 9 }).length;
      sizes.points += 2 * ts.length;
    }
  });

  it("temperature + humidity batches: ≤ 1.0 byte per (timestamp, value) point and ≥ 3× smaller than deflate", () => {
    expect(sizes.points).toBeGreaterThan(0);
    expect(sizes.bytes / sizes.points).toBeLessThanOrEqual(1.0);
    expect(sizes.deflated / sizes.bytes).toBeGreaterThanOrEqual(3);
  });

  it("round-trips all four channels as one batch per node (a sample of nodes)", () => {
    for (const s of series.filter((_, i) => i % 8 === 0)) {
      const batch = {
        t0Ms: s.samples[0]!.tMs,
        timestampsMs: s.samples.map((p) => p.tMs),
        channels: channels.map((ch) => ({ values: s.samples.map((p) => p[ch]), resolution: roomClimateResolution[ch] })),
      };
      expect(decodeBatch(encodeBatch(batch)), s.id).toEqual(batch);
    }
  });
});
