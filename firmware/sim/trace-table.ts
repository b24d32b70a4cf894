// The binary trace format a simulated device replays from a file (the lin
// build reads it with Moddable's `file` module; the host writes it). Fixed-
// size records so row i is one seek away and nothing is parsed up front:
//
//   header (12 bytes): "XSTR", version u8 = 1, channels u8, 0 u16, rows u32 LE
//   row i at 12 + i·8·(1 + channels): time ms f64 LE, then one f64 LE per channel
//
// Float64 keeps every recorded value exact, so a replay from this file feeds
// the codec the same numbers as a replay of the parsed CSV.
import type { TraceRow } from "./replay-source";

export const traceMagic = "XSTR";
export const traceVersion = 1;
export const traceHeaderBytes = 12;
/** Channels per row at most (the batcher's limit is lower). */
export const traceChannelsMax = 16;
/** Rows per file at most (a room-climate series has ~1.2k; a day at 1 Hz is 86k). */
export const traceRowsMax = 1_000_000;

export function traceRecordBytes(channels: number): number {
  return 8 * (1 + channels);
}

export interface TraceHeader {
  channels: number;
  rows: number;
}

export function encodeTraceTable(rows: readonly TraceRow[]): Uint8Array {
  if (rows.length === 0 || rows.length > traceRowsMax) throw new Error(`a trace needs 1..${traceRowsMax} rows, got ${rows.length}`);
  const channels = rows[0]!.values.length;
  if (channels < 1 || channels > traceChannelsMax) throw new Error(`a trace needs 1..${traceChannelsMax} channels, got ${channels}`);
  const record = traceRecordBytes(channels);
  const out = new Uint8Array(traceHeaderBytes + rows.length * record);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = traceMagic.charCodeAt(i);
  out[4] = traceVersion;
  out[5] = channels;
  dv.setUint32(8, rows.length, true);
  let prev = -Infinity;
  rows.forEach((r, i) => {
    if (r.values.length !== channels) throw new Error(`row ${i} has ${r.values.length} values, expected ${channels}`);
    if (!(r.timeMs >= prev)) throw new Error(`row ${i} goes back in time`);
    prev = r.timeMs;
    const at = traceHeaderBytes + i * record;
    dv.setFloat64(at, r.timeMs, true);
    for (let c = 0; c < channels; c++) dv.setFloat64(at + 8 * (1 + c), r.values[c]!, true);
  });
  return out;
}

/** Checks a file's first 12 bytes and its length; throws with what is wrong. */
export function decodeTraceHeader(header: Uint8Array, fileBytes: number): TraceHeader {
  if (header.length < traceHeaderBytes) throw new Error(`trace header is ${header.length} bytes`);
  for (let i = 0; i < 4; i++) if (header[i] !== traceMagic.charCodeAt(i)) throw new Error("not a trace file (magic)");
  if (header[4] !== traceVersion) throw new Error(`trace version ${header[4]} (this firmware reads ${traceVersion})`);
  const channels = header[5]!;
  const rows = new DataView(header.buffer, header.byteOffset, traceHeaderBytes).getUint32(8, true);
  if (channels < 1 || channels > traceChannelsMax) throw new Error(`trace has ${channels} channels`);
  if (rows < 1 || rows > traceRowsMax) throw new Error(`trace has ${rows} rows`);
  if (fileBytes !== traceHeaderBytes + rows * traceRecordBytes(channels)) throw new Error(`trace file is ${fileBytes} bytes, header says ${rows} rows of ${channels} channels`);
  return { channels, rows };
}
