// The trace file format the lin board replays, and the replay over it: a
// ReplaySource over an encoded table reports exactly what it reports over
// the parsed rows, and bad files are refused with what is wrong.
import { describe, expect, it } from "vitest";
import { ReplaySource, rowsTable, roomClimateChannels, type TraceRow, type TraceTable } from "../../firmware/sim/replay-source";
import { decodeTraceHeader, encodeTraceTable, traceHeaderBytes, traceRecordBytes } from "../../firmware/sim/trace-table";
import { loadRoomClimateFile } from "../../firmware/host/room-climate";

/** What the lin board's FileTraceTable does, over bytes in memory instead of a file. */
function bytesTable(bytes: Uint8Array): TraceTable {
  const h = decodeTraceHeader(bytes.subarray(0, traceHeaderBytes), bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rec = traceRecordBytes(h.channels);
  return {
    length: h.rows, channels: h.channels,
    timeMs: (i) => dv.getFloat64(traceHeaderBytes + i * rec, true),
    read: (i, v) => { for (let c = 0; c < h.channels; c++) v[c] = dv.getFloat64(traceHeaderBytes + i * rec + 8 * (1 + c), true); },
  };
}

function replay(table: readonly TraceRow[] | TraceTable, until: number): Array<[number, ...number[]]> {
  const src = new ReplaySource(roomClimateChannels, table, { startMs: 1_000, speedup: 50, loop: true });
  const v = new Float64Array(4);
  const out: Array<[number, ...number[]]> = [];
  for (let now = 1_000; now < until; now += 100) {
    for (let t = src.next(now, v); t >= 0; t = src.next(now, v)) out.push([t, ...v]);
  }
  return out;
}

describe("trace table", () => {
  const rows = loadRoomClimateFile("location_A-measurement02.csv").get(3)!.slice(0, 300);

  it("a replay of the encoded file equals the replay of the rows, loops included", () => {
    const bytes = encodeTraceTable(rows);
    expect(bytes.length).toBe(traceHeaderBytes + rows.length * traceRecordBytes(4));
    const fromRows = replay(rows, 60_000);
    expect(fromRows.length).toBeGreaterThan(rows.length); // looped at least once
    expect(replay(bytesTable(bytes), 60_000)).toEqual(fromRows);
    expect(replay(rowsTable(rows), 60_000)).toEqual(fromRows);
  });

  it("refuses files that are not traces, or whose length disagrees with the header", () => {
    const bytes = encodeTraceTable(rows.slice(0, 10));
    const bad = (mutate: (b: Uint8Array) => Uint8Array, msg: RegExp): void => {
      const b = mutate(bytes.slice());
      expect(() => decodeTraceHeader(b.subarray(0, traceHeaderBytes), b.length)).toThrow(msg);
    };
    bad((b) => { b[0] = 0x41; return b; }, /magic/);
    bad((b) => { b[4] = 9; return b; }, /version 9/);
    bad((b) => { b[5] = 0; return b; }, /0 channels/);
    bad((b) => b.subarray(0, b.length - 1), /header says 10 rows/);
    expect(() => decodeTraceHeader(bytes.subarray(0, 4), bytes.length)).toThrow(/header is 4 bytes/);
  });

  it("refuses to encode rows it could not replay", () => {
    expect(() => encodeTraceTable([])).toThrow(/1\.\.\d+ rows/);
    expect(() => encodeTraceTable([{ timeMs: 2, values: [1] }, { timeMs: 1, values: [1] }])).toThrow(/back in time/);
    expect(() => encodeTraceTable([{ timeMs: 1, values: [1] }, { timeMs: 2, values: [1, 2] }])).toThrow(/expected 1/);
    expect(() => new ReplaySource(roomClimateChannels, rowsTable([{ timeMs: 1, values: [1] }]), { startMs: 0 })).toThrow(/1 values for 4 channels/);
  });
});
