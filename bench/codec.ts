// Telemetry codec benchmark (npm run bench:codec). Over every room-climate
// series split per node: bytes per point and encode/decode throughput of the
// adaptive codec, the Gorilla reference, and deflate / zstd of the same points
// serialised two ways — raw binary (int64 LE timestamp + float64 LE value =
// 16 B/point, the fair baseline) and CSV text ("tMs,value\n"). Ratios are
// against deflate-9 and zstd-19 of the raw binary, measured in the same run.
// Then shared-timestamp batches, and encode/decode speed on the real XS engine.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { compress as zstdCompress, decompress as zstdDecompress } from "zstd-napi";
import { BatchDecoder, decodeBatch, decodeGorilla, decodeSeries, encodeBatch, encodeGorilla, encodeSeries } from "../shared/codec/index";
import { channelOf, loadRoomClimate, roomClimateResolution, type RoomClimateChannel, type RoomClimateSeries } from "../firmware/host/room-climate";
import { runManyOnXs } from "../test/harness/xs";
import { describeMachine } from "./lib/machine";
import { deviceDefaults } from "../firmware/device/options";

/** Rows per telemetry batch on a device (the firmware's default batchPointsMax). */
const deviceBatchRows = deviceDefaults.batchPointsMax;

interface Points {
  timestampsMs: number[];
  values: number[];
  resolution: number;
}

interface Codec {
  name: string;
  encode(p: Points): Uint8Array;
  decode(bytes: Uint8Array, p: Points): unknown;
}

const minTimeMs = Number(process.env.BENCH_MIN_MS ?? 300);
const xsChunkPoints = 1024;

function log(line: string): void {
  process.stderr.write(`… ${line}\n`);
}

function rawBinary(p: Points): Uint8Array {
  const view = new DataView(new ArrayBuffer(p.timestampsMs.length * 16));
  for (let i = 0; i < p.timestampsMs.length; i++) {
    view.setBigInt64(i * 16, BigInt(p.timestampsMs[i]!), true);
    view.setFloat64(i * 16 + 8, p.values[i]!, true);
  }
  return new Uint8Array(view.buffer);
}

function parseRawBinary(bytes: Uint8Array): { timestampsMs: number[]; values: number[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length / 16;
  const timestampsMs = new Array<number>(n);
  const values = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    timestampsMs[i] = Number(view.getBigInt64(i * 16, true));
    values[i] = view.getFloat64(i * 16 + 8, true);
  }
  return { timestampsMs, values };
}

function csvText(p: Points): Uint8Array {
  let s = "";
  for (let i = 0; i < p.timestampsMs.length; i++) s += `${p.timestampsMs[i]},${p.values[i]}\n`;
  return Buffer.from(s, "utf8");
}

function parseCsv(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const line of Buffer.from(bytes).toString("utf8").split("\n")) {
    if (line) for (const f of line.split(",")) out.push(Number(f));
  }
  return out;
}

const codecs: Codec[] = [
  { name: "xsfleet adaptive", encode: (p) => encodeSeries(p), decode: (b) => decodeSeries(b, { pointsMax: 1 << 20 }) },
  {
    name: "Gorilla (reference)",
    encode: (p) => encodeGorilla({ t0Ms: p.timestampsMs[0] ?? 0, timestampsMs: p.timestampsMs, values: p.values }),
    decode: (b) => decodeGorilla(b, { pointsMax: 1 << 20 }),
  },
  { name: "deflate-9 raw16", encode: (p) => deflateRawSync(rawBinary(p), { level: 9 }), decode: (b) => parseRawBinary(inflateRawSync(b)) },
  { name: "deflate-6 raw16", encode: (p) => deflateRawSync(rawBinary(p), { level: 6 }), decode: (b) => parseRawBinary(inflateRawSync(b)) },
  { name: "zstd-3 raw16", encode: (p) => zstdCompress(rawBinary(p), { compressionLevel: 3 }), decode: (b) => parseRawBinary(zstdDecompress(b)) },
  { name: "zstd-19 raw16", encode: (p) => zstdCompress(rawBinary(p), { compressionLevel: 19 }), decode: (b) => parseRawBinary(zstdDecompress(b)) },
  { name: "deflate-9 csv", encode: (p) => deflateRawSync(csvText(p), { level: 9 }), decode: (b) => parseCsv(inflateRawSync(b)) },
  { name: "zstd-19 csv", encode: (p) => zstdCompress(csvText(p), { compressionLevel: 19 }), decode: (b) => parseCsv(zstdDecompress(b)) },
];

interface Row {
  name: string;
  bytes: number;
  points: number;
  encodePerS: number;
  decodePerS: number;
}

/** Runs f over all inputs repeatedly for at least minTimeMs (after one warm-up pass); points per second. */
function throughput(points: number, f: () => void): number {
  f();
  let reps = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    f();
    reps++;
    elapsed = performance.now() - start;
  } while (elapsed < minTimeMs || reps < 2);
  return (points * reps) / (elapsed / 1000);
}

function measure(name: string, inputs: Points[], encode: (p: Points) => Uint8Array, decode: (b: Uint8Array, p: Points) => unknown): Row {
  const points = inputs.reduce((a, p) => a + p.timestampsMs.length, 0);
  const encoded = inputs.map(encode);
  const bytes = encoded.reduce((a, b) => a + b.length, 0);
  const encodePerS = throughput(points, () => inputs.forEach(encode));
  const decodePerS = throughput(points, () => encoded.forEach((b, i) => decode(b, inputs[i]!)));
  return { name, bytes, points, encodePerS, decodePerS };
}

function fmtRate(perS: number): string {
  return perS >= 1e6 ? `${(perS / 1e6).toFixed(2)} M/s` : `${(perS / 1e3).toFixed(1)} k/s`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => "| " + cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join(" | ") + " |";
  return [line(headers), "|" + widths.map((w, c) => (c === 0 ? "-".repeat(w + 1) + "-" : "-".repeat(w + 1) + ":")).join("|") + "|", ...rows.map(line)].join("\n");
}

function channelTable(channel: RoomClimateChannel, series: RoomClimateSeries[]): string {
  const inputs = series.map((s) => channelOf(s, channel));
  const rows: Row[] = [];
  for (const c of codecs) {
    log(`${channel}: ${c.name}`);
    rows.push(measure(c.name, inputs, (p) => c.encode(p), (b, p) => c.decode(b, p)));
  }
  const deflate9 = rows.find((r) => r.name === "deflate-9 raw16")!;
  const zstd19 = rows.find((r) => r.name === "zstd-19 raw16")!;
  const ours = rows[0]!;
  const perSeries = inputs.map((p) => encodeSeries(p).length / p.timestampsMs.length);
  const header = `### ${channel} (resolution ${roomClimateResolution[channel]}): ${inputs.length} series, ${ours.points} points; xsfleet B/pt per series: min ${Math.min(...perSeries).toFixed(3)}, max ${Math.max(...perSeries).toFixed(3)}`;
  return (
    header +
    "\n\n" +
    table(
      ["codec", "B/point", "bits/point", "× smaller than deflate-9 raw", "× smaller than zstd-19 raw", "encode points", "decode points"],
      rows.map((r) => [
        r.name,
        (r.bytes / r.points).toFixed(3),
        ((r.bytes * 8) / r.points).toFixed(2),
        (deflate9.bytes / r.bytes).toFixed(2),
        (zstd19.bytes / r.bytes).toFixed(2),
        fmtRate(r.encodePerS),
        fmtRate(r.decodePerS),
      ]),
    )
  );
}

/** Row-wise raw binary of a batch: int64 timestamp + one float64 per channel. */
function rawRows(ts: number[], columns: number[][]): Uint8Array {
  const stride = 8 + 8 * columns.length;
  const view = new DataView(new ArrayBuffer(ts.length * stride));
  for (let i = 0; i < ts.length; i++) {
    view.setBigInt64(i * stride, BigInt(ts[i]!), true);
    columns.forEach((col, c) => view.setFloat64(i * stride + 8 + 8 * c, col[i]!, true));
  }
  return new Uint8Array(view.buffer);
}

function batchTable(series: RoomClimateSeries[]): string {
  const sets: RoomClimateChannel[][] = [["temp", "humidity"], ["temp", "humidity", "light1", "light2"]];
  // Whole traces (the codec's best case) and the batches devices really send:
  // at most deviceDefaults.batchPointsMax rows (32) per batch.
  const shapes: Array<{ label: string; rows: number }> = [{ label: "whole trace", rows: Infinity }, { label: `${deviceBatchRows}-row batches (devices)`, rows: deviceBatchRows }];
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const shape of shapes) for (const set of sets) {
    log(`batch ${set.join("+")} ${shape.label}`);
    const batches = series.flatMap((s) => {
      const out = [];
      for (let i = 0; i < s.samples.length; i += Math.min(shape.rows, s.samples.length)) {
        const part = s.samples.slice(i, i + shape.rows);
        out.push({
          t0Ms: part[0]!.tMs,
          timestampsMs: part.map((p) => p.tMs),
          channels: set.map((ch) => ({ values: part.map((p) => p[ch]), resolution: roomClimateResolution[ch] })),
        });
      }
      return out;
    });
    const points = batches.reduce((a, b) => a + b.timestampsMs.length * set.length, 0);
    const encoded = batches.map((b) => encodeBatch(b));
    const bytes = encoded.reduce((a, b) => a + b.length, 0);
    const enc = throughput(points, () => batches.forEach((b) => encodeBatch(b)));
    const dec = throughput(points, () => encoded.forEach((b) => decodeBatch(b)));
    // The cloud's way: one decoder whose models are reset per batch (cloud/records).
    const reused = new BatchDecoder();
    const decReused = throughput(points, () => encoded.forEach((b) => reused.decode(b)));
    const deflateRows = batches.reduce((a, b) => a + deflateRawSync(rawRows(b.timestampsMs, b.channels.map((c) => [...c.values])), { level: 9 }).length, 0);
    const deflatePerChannel = batches.reduce(
      (a, b) => a + b.channels.reduce((x, c) => x + deflateRawSync(rawBinary({ timestampsMs: b.timestampsMs, values: [...c.values], resolution: 0 }), { level: 9 }).length, 0),
      0,
    );
    const zstdRows = batches.reduce((a, b) => a + zstdCompress(rawRows(b.timestampsMs, b.channels.map((c) => [...c.values])), { compressionLevel: 19 }).length, 0);
    if (shape.rows === deviceBatchRows && set.length === 4) {
      const bpp = bytes / points;
      const vsDeflate = deflateRows / bytes;
      const perBatchUs = (rate: number): string => ((1e6 * points) / batches.length / rate).toFixed(1);
      verdicts.push(`decode of one ${deviceBatchRows}-row 4-channel batch: ${perBatchUs(dec)} µs with decodeBatch (fresh models), ` +
        `${perBatchUs(decReused)} µs with a reused BatchDecoder (as the cloud decodes)`);
      verdicts.push(`target for ${deviceBatchRows}-row 4-channel batches (<= 1.0 B/point, >= 3x smaller than deflate-9 of the same rows): ` +
        `${bpp.toFixed(3)} B/point, ${vsDeflate.toFixed(2)}x — ${bpp <= 1.0 && vsDeflate >= 3 ? "met" : "NOT met"}`);
    }
    rows.push([
      `${set.join("+")}, ${shape.label}`,
      (bytes / points).toFixed(3),
      (deflateRows / bytes).toFixed(2),
      (deflatePerChannel / bytes).toFixed(2),
      (zstdRows / bytes).toFixed(2),
      fmtRate(enc),
      fmtRate(dec),
      fmtRate(decReused),
    ]);
  }
  return (
    "### Batches: one shared timestamp column + N channels per node (B per (timestamp, value) point = bytes / (samples × channels))\n\n" +
    table(
      ["channels", "xsfleet B/point", "× vs deflate-9 rows (8+8N B)", "× vs deflate-9 per channel raw16", "× vs zstd-19 rows", "encode points", "decode points", "decode points (reused decoder)"],
      rows,
    ) + `\n\n${verdicts.join("\n")}`
  );
}

interface XsResult {
  points: number;
  bytes: number;
  gorillaBytes: number;
  encodeMs: number;
  decodeMs: number;
  gorillaEncodeMs: number;
  gorillaDecodeMs: number;
  checksum: number;
}

function checksum(bytes: Uint8Array, acc: number): number {
  for (let i = 0; i < bytes.length; i++) acc = (Math.imul(acc, 31) + bytes[i]!) >>> 0;
  return acc;
}

async function xsTable(series: RoomClimateSeries[]): Promise<string> {
  const rows: string[][] = [];
  for (const channel of ["temp", "humidity"] as const) {
    // xsnap meters each command at 1e8 computrons: one command per chunk of
    // xsChunkPoints points (a realistic device batch), all in one XS worker.
    log(`XS: ${channel} (one xsnap command per ${xsChunkPoints}-point chunk)`);
    const inputs = series.flatMap((s) => {
      const c = channelOf(s, channel);
      const chunks: Points[] = [];
      for (let i = 0; i < c.timestampsMs.length; i += xsChunkPoints) {
        chunks.push({ timestampsMs: c.timestampsMs.slice(i, i + xsChunkPoints), values: c.values.slice(i, i + xsChunkPoints), resolution: c.resolution });
      }
      return chunks;
    });
    const runs = await runManyOnXs<XsResult>("bench/lib/codec-xs-entry.ts", inputs.map((p) => ({ series: [p], reps: 1 })));
    const sum = (f: (r: XsResult) => number) => runs.reduce((a, r) => a + f(r.result), 0);
    const points = sum((r) => r.points);
    const compute = runs.reduce((a, r) => a + (r.meter.compute ?? 0), 0);
    const sameBytes = runs.every((r, i) => r.result.checksum === checksum(encodeSeries(inputs[i]!), 0));
    rows.push([
      channel,
      String(points),
      fmtRate(points / (sum((r) => r.encodeMs) / 1000)),
      fmtRate(points / (sum((r) => r.decodeMs) / 1000)),
      fmtRate(points / (sum((r) => r.gorillaEncodeMs) / 1000)),
      fmtRate(points / (sum((r) => r.gorillaDecodeMs) / 1000)),
      String(Math.round(compute / points)),
      sameBytes ? "yes" : "NO",
    ]);
  }
  return (
    `### On the XS engine (xsnap on this machine, timed with xsNowMs inside XS; series cut into ${xsChunkPoints}-point batches)\n\n` +
    table(["channel", "points", "xsfleet encode", "xsfleet decode", "Gorilla encode", "Gorilla decode", "XS computrons/point (all four)", "bytes = Node's"], rows)
  );
}

async function main(): Promise<void> {
  const series = loadRoomClimate();
  const out: string[] = [`# Telemetry codec benchmark — room-climate, ${series.length} per-node series`, describeMachine(), ""];
  for (const channel of ["temp", "humidity", "light1"] as const) out.push(channelTable(channel, series), "");
  out.push(batchTable(series), "");
  try {
    out.push(await xsTable(series));
  } catch (e) {
    out.push(`### On the XS engine: skipped (${String(e)})`);
  }
  console.log(out.join("\n"));
}

await main();
