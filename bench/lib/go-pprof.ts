// Reads nats-server's Go profiles from its pprof listener (`prof_port`;
// gzipped profile.proto) without a Go toolchain on the machine. Benchmarks only.
// - heap (/debug/pprof/heap): in-use bytes by allocating function (the
//   innermost frame that is not Go's runtime), as
//   `go tool pprof -sample_index=inuse_space -top` shows;
// - CPU (/debug/pprof/profile?seconds=N): self time by function and
//   inclusive time by nats-server function, as `go tool pprof -top` and
//   `-top -cum` show.
//
//   npx tsx bench/lib/go-pprof.ts http://127.0.0.1:<prof_port> [top]         heap
//   npx tsx bench/lib/go-pprof.ts http://127.0.0.1:<prof_port> cpu <s> [top] CPU
import { gunzipSync } from "node:zlib";
import protobuf from "protobufjs";

// The subset of github.com/google/pprof/proto/profile.proto this reader needs.
const profileProto = `
syntax = "proto3";
message ValueType { int64 type = 1; int64 unit = 2; }
message Sample { repeated uint64 location_id = 1; repeated int64 value = 2; }
message Line { uint64 function_id = 1; int64 line = 2; }
message Location { uint64 id = 1; uint64 mapping_id = 2; uint64 address = 3; repeated Line line = 4; }
message Function { uint64 id = 1; int64 name = 2; int64 system_name = 3; int64 filename = 4; int64 start_line = 5; }
message Profile {
  repeated ValueType sample_type = 1;
  repeated Sample sample = 2;
  repeated Location location = 4;
  repeated Function function = 5;
  repeated string string_table = 6;
}`;

export interface HeapSite { fn: string; bytes: number; objects: number }
export interface HeapSummary { inuseBytes: number; sites: HeapSite[] }

/** Frames skipped to find who allocated: the runtime's allocation helpers and generic containers. */
const runtimeFrame = /^(runtime\.|internal\/|bytes\.growSlice|bytes\.\(\*Buffer\)\.grow|reflect\.)/;

const num = (v: number | { toNumber(): number }): number => (typeof v === "number" ? v : v.toNumber());

interface DecodedProfile {
  types: string[];
  /** Per sample: its values and its frames, innermost first. */
  samples: { values: number[]; stack: string[] }[];
}

function decodeProfile(gz: Uint8Array): DecodedProfile {
  const Profile = protobuf.parse(profileProto, { keepCase: true }).root.lookupType("Profile");
  const p = Profile.toObject(Profile.decode(gunzipSync(gz)), { longs: Number, defaults: true }) as {
    sample_type: { type: number }[]; sample: { location_id: number[]; value: number[] }[];
    location: { id: number; line: { function_id: number }[] }[]; function: { id: number; name: number }[]; string_table: string[];
  };
  const str = p.string_table;
  const fnName = new Map(p.function.map((f) => [num(f.id), str[num(f.name)] ?? "?"]));
  // A location's frames, innermost first (inlined calls come first in `line`).
  const frames = new Map(p.location.map((l) => [num(l.id), l.line.map((ln) => fnName.get(num(ln.function_id)) ?? "?")]));
  return {
    types: p.sample_type.map((t) => str[num(t.type)] ?? "?"),
    samples: p.sample.map((s) => ({ values: s.value.map(num), stack: s.location_id.flatMap((id) => frames.get(num(id)) ?? []) })),
  };
}

export function summarizeHeap(gz: Uint8Array): HeapSummary {
  const p = decodeProfile(gz);
  const iBytes = p.types.indexOf("inuse_space");
  const iObjs = p.types.indexOf("inuse_objects");
  if (iBytes < 0) throw new Error(`not a heap profile (sample types: ${p.types.join(", ")})`);
  const sites = new Map<string, HeapSite>();
  let total = 0;
  for (const s of p.samples) {
    const bytes = s.values[iBytes]!;
    if (bytes === 0) continue;
    total += bytes;
    const fn = s.stack.find((f) => !runtimeFrame.test(f)) ?? s.stack[0] ?? "?";
    const site = sites.get(fn) ?? { fn, bytes: 0, objects: 0 };
    site.bytes += bytes;
    site.objects += iObjs >= 0 ? s.values[iObjs]! : 0;
    sites.set(fn, site);
  }
  return { inuseBytes: total, sites: [...sites.values()].sort((a, b) => b.bytes - a.bytes) };
}

export interface CpuRow { fn: string; ns: number }
export interface CpuSummary { totalNs: number; self: CpuRow[]; inclusive: CpuRow[] }

/** Functions of interest for inclusive time: nats-server's own (not the runtime, not the standard library). */
const serverFrame = /^github\.com\/nats-io\/nats-server/;

export function summarizeCpu(gz: Uint8Array): CpuSummary {
  const p = decodeProfile(gz);
  const iNs = p.types.indexOf("cpu");
  if (iNs < 0) throw new Error(`not a CPU profile (sample types: ${p.types.join(", ")})`);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  for (const s of p.samples) {
    const ns = s.values[iNs]!;
    total += ns;
    const top = s.stack[0] ?? "?";
    self.set(top, (self.get(top) ?? 0) + ns);
    for (const fn of new Set(s.stack)) if (serverFrame.test(fn)) incl.set(fn, (incl.get(fn) ?? 0) + ns);
  }
  const rows = (m: Map<string, number>): CpuRow[] => [...m.entries()].map(([fn, ns]) => ({ fn, ns })).sort((a, b) => b.ns - a.ns);
  return { totalNs: total, self: rows(self), inclusive: rows(incl) };
}

/** Markdown lines: CPU self and inclusive time; per message when `messages` is given. */
export function cpuTable(c: CpuSummary, top: number, messages?: number): string[] {
  const short = (fn: string): string => fn.replace("github.com/nats-io/nats-server/v2/server.", "server.");
  const per = (ns: number): string => (messages ? ` | ${(ns / messages / 1000).toFixed(1)} µs` : "");
  const head = (what: string): string[] => [`| % | ${what}${messages ? " | per message" : ""} | function |`, `|---:|---:|${messages ? "---:|" : ""}---|`];
  const line = (r: CpuRow): string => `| ${((100 * r.ns) / c.totalNs).toFixed(1)} | ${(r.ns / 1e6).toFixed(0)} ms${per(r.ns)} | \`${short(r.fn)}\` |`;
  return [
    `nats-server CPU in the profile: ${(c.totalNs / 1e9).toFixed(2)} s${messages ? ` (${(c.totalNs / messages / 1000).toFixed(1)} µs per message)` : ""}`, "",
    "Self time:", "", ...head("self"), ...c.self.slice(0, top).map(line), "",
    "Inclusive time of nats-server's functions:", "", ...head("inclusive"), ...c.inclusive.slice(0, top).map(line),
  ];
}

export async function fetchCpu(profUrl: string, seconds: number): Promise<CpuSummary> {
  const res = await fetch(`${profUrl}/debug/pprof/profile?seconds=${seconds}`);
  if (!res.ok) throw new Error(`${profUrl}/debug/pprof/profile: HTTP ${res.status}`);
  return summarizeCpu(new Uint8Array(await res.arrayBuffer()));
}

export async function fetchHeap(profUrl: string): Promise<HeapSummary> {
  // gc=1: a GC first, so in-use figures are live objects only.
  const res = await fetch(`${profUrl}/debug/pprof/heap?gc=1`);
  if (!res.ok) throw new Error(`${profUrl}/debug/pprof/heap: HTTP ${res.status}`);
  return summarizeHeap(new Uint8Array(await res.arrayBuffer()));
}

/** Markdown lines: the top allocation sites, per session when `sessions` is given. */
export function heapTable(h: HeapSummary, top: number, sessions?: number): string[] {
  const per = (b: number): string => (sessions ? `${(b / sessions / 1024).toFixed(2)} KiB` : "");
  const lines = [`Go heap in use: ${(h.inuseBytes / 2 ** 20).toFixed(1)} MiB${sessions ? ` (${per(h.inuseBytes)} per session)` : ""}`, "",
    `| % | in use | ${sessions ? "per session | " : ""}allocated in |`, `|---:|---:|${sessions ? "---:|" : ""}---|`];
  for (const s of h.sites.slice(0, top)) {
    lines.push(`| ${((100 * s.bytes) / h.inuseBytes).toFixed(1)} | ${(s.bytes / 2 ** 20).toFixed(2)} MiB | ${sessions ? `${per(s.bytes)} | ` : ""}\`${s.fn}\` |`);
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.argv[2];
  if (!url) {
    console.error("usage: npx tsx bench/lib/go-pprof.ts http://127.0.0.1:<prof_port> [top]   (heap)\n       npx tsx bench/lib/go-pprof.ts http://127.0.0.1:<prof_port> cpu <seconds> [top]");
    process.exit(2);
  }
  if (process.argv[3] === "cpu") console.log(cpuTable(await fetchCpu(url, Number(process.argv[4] ?? 10)), Number(process.argv[5] ?? 25)).join("\n"));
  else console.log(heapTable(await fetchHeap(url), Number(process.argv[3] ?? 25)).join("\n"));
}
