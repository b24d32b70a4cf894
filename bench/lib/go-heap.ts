// Where a Go process's heap goes: fetches nats-server's heap profile from its
// pprof listener (`prof_port`, /debug/pprof/heap: gzipped profile.proto) and
// sums in-use bytes by allocating function (the innermost frame that is not
// Go's runtime) — what `go tool pprof -sample_index=inuse_space -top` shows,
// without a Go toolchain on the machine. Benchmarks only.
//
//   npx tsx bench/lib/go-heap.ts http://127.0.0.1:<prof_port> [top]
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
export interface HeapSummary { inuseBytes: number; sites: HeapSite[]; byPackage: { pkg: string; bytes: number }[] }

/** Frames skipped to find who allocated: the runtime's allocation helpers and generic containers. */
const runtimeFrame = /^(runtime\.|internal\/|bytes\.growSlice|bytes\.\(\*Buffer\)\.grow|reflect\.)/;

const num = (v: number | { toNumber(): number }): number => (typeof v === "number" ? v : v.toNumber());

export function summarizeHeap(gz: Uint8Array): HeapSummary {
  const Profile = protobuf.parse(profileProto, { keepCase: true }).root.lookupType("Profile");
  const p = Profile.toObject(Profile.decode(gunzipSync(gz)), { longs: Number, defaults: true }) as {
    sample_type: { type: number }[]; sample: { location_id: number[]; value: number[] }[];
    location: { id: number; line: { function_id: number }[] }[]; function: { id: number; name: number }[]; string_table: string[];
  };
  const str = p.string_table;
  const types = p.sample_type.map((t) => str[num(t.type)]);
  const iBytes = types.indexOf("inuse_space");
  const iObjs = types.indexOf("inuse_objects");
  if (iBytes < 0) throw new Error(`not a heap profile (sample types: ${types.join(", ")})`);
  const fnName = new Map(p.function.map((f) => [num(f.id), str[num(f.name)] ?? "?"]));
  // A location's frames, innermost first (inlined calls come first in `line`).
  const frames = new Map(p.location.map((l) => [num(l.id), l.line.map((ln) => fnName.get(num(ln.function_id)) ?? "?")]));
  const sites = new Map<string, HeapSite>();
  let total = 0;
  for (const s of p.sample) {
    const bytes = num(s.value[iBytes]!);
    if (bytes === 0) continue;
    total += bytes;
    const stack = s.location_id.flatMap((id) => frames.get(num(id)) ?? []);
    const fn = stack.find((f) => !runtimeFrame.test(f)) ?? stack[0] ?? "?";
    const site = sites.get(fn) ?? { fn, bytes: 0, objects: 0 };
    site.bytes += bytes;
    site.objects += iObjs >= 0 ? num(s.value[iObjs]!) : 0;
    sites.set(fn, site);
  }
  const byPkg = new Map<string, number>();
  for (const s of sites.values()) {
    const pkg = s.fn.replace(/\.[^./]*$/, "").replace(/\.\(\*?[A-Za-z0-9_]+\)$/, "");
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + s.bytes);
  }
  return {
    inuseBytes: total,
    sites: [...sites.values()].sort((a, b) => b.bytes - a.bytes),
    byPackage: [...byPkg.entries()].map(([pkg, bytes]) => ({ pkg, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
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
    console.error("usage: npx tsx bench/lib/go-heap.ts http://127.0.0.1:<prof_port> [top]");
    process.exit(2);
  }
  const h = await fetchHeap(url);
  console.log(heapTable(h, Number(process.argv[3] ?? 25)).join("\n"));
}
