// Loads the room-climate traces (located by datasets.ts) as replay rows, one
// series per NodeID.
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
