// The telemetry codec on the real XS engine: room-climate samples encode to
// exactly the bytes Node produces, and decode back exactly, on XS.
import { describe, expect, it } from "vitest";
import { encodeBatch, encodeGorilla, type TelemetryBatch } from "../../shared/codec/index";
import { loadRoomClimate, roomClimateResolution, type RoomClimateChannel } from "../../firmware/host/room-climate";
import { runManyOnXs } from "../harness/xs";

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
});
