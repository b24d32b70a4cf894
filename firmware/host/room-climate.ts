// The one loader of the room-climate traces (located by datasets.ts): replay
// rows per (file, NodeID) for simulated devices, and the same series as
// named samples per channel for the codec tests and benchmarks.
// CSV columns: EID, AbsT(ms), RelT(s), NodeID, Temp, RelH, L1, L2, Occ, Act, Door, Win.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { TraceRow } from "../sim/replay-source";
import { roomClimateDir } from "./datasets";

export { roomClimateDir };

export interface RoomClimateTrace {
  file: string;
  nodeId: number;
  rows: TraceRow[];
}

const cache = new Map<string, Map<number, TraceRow[]>>();

export function roomClimateFiles(dir = roomClimateDir()): string[] {
  if (!existsSync(dir)) throw new Error(`room-climate dataset not found at ${dir} (set XSFLEET_DATASETS)`);
  return readdirSync(dir).filter((f) => f.endsWith(".csv")).sort();
}

/** Rows of one file split by NodeID: [time, temperature, humidity, light1, light2]. */
export function loadRoomClimateFile(file: string, dir = roomClimateDir()): Map<number, TraceRow[]> {
  const key = path.resolve(dir, file);
  const hit = cache.get(key);
  if (hit) return hit;
  const byNode = new Map<number, TraceRow[]>();
  const lines = readFileSync(key, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const f = line.split(",").map((s) => Number(s.trim()));
    if (f.length < 8 || f.slice(0, 8).some((x) => !Number.isFinite(x))) throw new Error(`${file}:${i + 1}: malformed line`);
    const node = f[3]!;
    let rows = byNode.get(node);
    if (!rows) byNode.set(node, (rows = []));
    rows.push({ timeMs: f[1]!, values: [f[4]!, f[5]!, f[6]!, f[7]!] });
  }
  for (const rows of byNode.values()) rows.sort((a, b) => a.timeMs - b.timeMs);
  cache.set(key, byNode);
  return byNode;
}

/** All (file, node) series in a stable order; device i of a fleet replays series i mod n. */
export function roomClimateTraces(dir = roomClimateDir()): RoomClimateTrace[] {
  const out: RoomClimateTrace[] = [];
  for (const file of roomClimateFiles(dir)) {
    const byNode = loadRoomClimateFile(file, dir);
    for (const nodeId of [...byNode.keys()].sort((a, b) => a - b)) out.push({ file, nodeId, rows: byNode.get(nodeId)! });
  }
  return out;
}

/** Declared sensor resolutions of the dataset's channels. */
export const roomClimateResolution = Object.freeze({ temp: 0.01, humidity: 0.001, light1: 0.01, light2: 0.1 } as const);
export type RoomClimateChannel = keyof typeof roomClimateResolution;

export interface RoomClimateSample {
  tMs: number;
  temp: number;
  humidity: number;
  light1: number;
  light2: number;
}

export interface RoomClimateSeries {
  /** e.g. "location_A-measurement01.csv#node1" */
  id: string;
  file: string;
  nodeId: number;
  samples: RoomClimateSample[];
}

/** Every (file, node) series of the dataset with named channels. */
export function loadRoomClimate(dir = roomClimateDir()): RoomClimateSeries[] {
  return roomClimateTraces(dir).map((t) => ({
    id: `${t.file}#node${t.nodeId}`, file: t.file, nodeId: t.nodeId,
    samples: t.rows.map((r) => ({ tMs: r.timeMs, temp: r.values[0]!, humidity: r.values[1]!, light1: r.values[2]!, light2: r.values[3]! })),
  }));
}

/** One channel of a series as parallel arrays, with its resolution. */
export function channelOf(series: RoomClimateSeries, channel: RoomClimateChannel): { timestampsMs: number[]; values: number[]; resolution: number } {
  return {
    timestampsMs: series.samples.map((s) => s.tMs),
    values: series.samples.map((s) => s[channel]),
    resolution: roomClimateResolution[channel],
  };
}
