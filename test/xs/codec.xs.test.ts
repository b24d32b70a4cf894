// The telemetry codec on the real XS engine: room-climate samples encode to
// exactly the bytes Node produces, and decode back exactly, on XS.
import { describe, expect, it } from "vitest";
import { BatchDecoder, CodecError, encodeBatch, encodeGorilla, type TelemetryBatch } from "../../shared/codec/index";
import { loadRoomClimate, roomClimateResolution, type RoomClimateChannel } from "../../firmware/host/room-climate";
import { runManyOnXs } from "../harness/xs";
import type { DamagedInput, DamagedOutcome } from "./entries/codec-damaged";

const channels: RoomClimateChannel[] = ["temp", "humidity", "light1", "light2"];

/** A few per-node samples: different files, nodes and lengths (incl. a partial block). */
function samples(): TelemetryBatch[] {
  const all = loadRoomClimate();
  const picks = [
    { s: all[0]!, from: 0, n: 300 },
    { s: all[7]!, from: 500, n: 129 },
    { s: all[all.length - 1]!, from: 100, n: 257 },
    { s: all[3]!, from: 0, n: 1 },
  ];
  return picks.map(({ s, from, n }) => {
    const part = s.samples.slice(from, from + n);
    return {
      t0Ms: part[0]!.tMs,
      timestampsMs: part.map((p) => p.tMs),
      channels: channels.map((ch) => ({ values: part.map((p) => p[ch]), resolution: roomClimateResolution[ch] })),
    };
  });
}

interface XsOut {
  bytes: number[];
  gorilla: number[];
  decoded: TelemetryBatch;
  reusedDecoded: TelemetryBatch;
  gorillaDecoded: { timestampsMs: number[]; values: number[] };
}

describe("telemetry codec on XS", () => {
  it("encodes room-climate samples to Node's exact bytes and decodes them back", async () => {
    const batches = samples();
    const runs = await runManyOnXs<XsOut>("test/xs/entries/codec.ts", batches);
    runs.forEach((run, i) => {
      const batch = batches[i]!;
      expect(run.result.bytes).toEqual(Array.from(encodeBatch(batch)));
      expect(run.result.decoded).toEqual(batch);
      expect(run.result.reusedDecoded).toEqual(batch);
      const values = batch.channels[0]!.values;
      expect(run.result.gorilla).toEqual(Array.from(encodeGorilla({ t0Ms: batch.t0Ms, timestampsMs: batch.timestampsMs, values })));
      expect(run.result.gorillaDecoded).toEqual({ timestampsMs: batch.timestampsMs, values });
    });
  });

  it("decodes truncated and bit-flipped encodings to Node's exact outcomes (values or CodecErrors)", async () => {
    const inputs: number[][] = [];
    for (const batch of samples()) {
      const bytes = encodeBatch(batch);
      // About 40 cut points and 40 flipped bits per encoding, spread over it.
      const step = Math.max(1, Math.floor(bytes.length / 40));
      for (let at = 0; at < bytes.length; at += step) {
        inputs.push(Array.from(bytes.subarray(0, at)));
        const flipped = Uint8Array.from(bytes);
        flipped[at]! ^= 1 << (at % 8);
        inputs.push(Array.from(flipped));
      }
    }
    const node = new BatchDecoder();
    const expected: DamagedOutcome[] = inputs.map((bytes) => {
      try {
        const b = node.decode(Uint8Array.from(bytes), { pointsMax: 512, channelsMax: 8 });
        return { ok: { t0Ms: b.t0Ms, timestampsMs: b.timestampsMs, values: b.channels.map((c) => c.values) } };
      } catch (e) {
        if (e instanceof CodecError) return { reason: e.reason, message: e.message };
        throw e;
      }
    });
    // xsnap meters each command: ten inputs per command.
    const commands: DamagedInput[] = [];
    for (let i = 0; i < inputs.length; i += 10) commands.push({ inputs: inputs.slice(i, i + 10) });
    const runs = await runManyOnXs<DamagedOutcome[]>("test/xs/entries/codec-damaged.ts", commands);
    expect(runs.flatMap((r) => r.result)).toEqual(expected);
    // Both outcomes are exercised.
    expect(expected.some((o) => "ok" in o)).toBe(true);
    expect(expected.some((o) => "reason" in o)).toBe(true);
  });
});
