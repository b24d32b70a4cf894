// The architecture, checked: imports of every product file (cloud/, shared/,
// firmware/, bench/, scripts/, bin/) are parsed with the TypeScript
// preprocessor and held against the rules of docs/architecture.md, including
// its "may import" table, which this test reads from the document (so the
// document and the test cannot disagree).
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const productRoots = ["cloud", "shared", "firmware", "bench", "scripts", "bin"];
const sourceExt = /\.(ts|mts|mjs|js)$/;

interface Edge {
  /** Repository-relative paths. */
  from: string;
  to: string;
  specifier: string;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules") walk(p, out);
    } else if (sourceExt.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

function resolve(fromFile: string, spec: string): string | null {
  const base = path.resolve(path.dirname(fromFile), spec);
  // `.js` with a `.d.ts`: a Moddable module backed by native code (firmware/lin/sigpipe).
  for (const c of [base, `${base}.ts`, `${base}.mts`, `${base}.d.ts`, path.join(base, "index.ts")]) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

const rel = (p: string): string => path.relative(root, p).split(path.sep).join("/");

function edgesOf(files: readonly string[]): { edges: Edge[]; unresolved: string[] } {
  const edges: Edge[] = [];
  const unresolved: string[] = [];
  for (const f of files) {
    const info = ts.preProcessFile(readFileSync(f, "utf8"), true, true);
    for (const imp of info.importedFiles) {
      if (!imp.fileName.startsWith(".")) continue;
      const to = resolve(f, imp.fileName);
      if (to === null) unresolved.push(`${rel(f)}: ${imp.fileName}`);
      else edges.push({ from: rel(f), to: rel(to), specifier: imp.fileName });
    }
  }
  return { edges, unresolved };
}

/** "cloud/ingest/sim/run.ts" → "ingest"; null outside cloud/. */
function cloudFolder(file: string): string | null {
  const parts = file.split("/");
  return parts[0] === "cloud" && parts.length > 2 ? parts[1]! : null;
}

/** The top-level part a file belongs to, for rules across cloud/shared/firmware/test/… */
function area(file: string): string {
  const parts = file.split("/");
  if (parts[0] === "firmware" && parts[1] === "host") return "firmware/host";
  if (parts[0] === "test" && parts[1] === "harness") return "test/harness";
  return parts[0]!;
}

/** The "may import" table of docs/architecture.md: folder → allowed targets. */
function mayImportTable(): Map<string, Set<string>> {
  const doc = readFileSync(path.join(root, "docs/architecture.md"), "utf8").split("\n");
  const start = doc.findIndex((l) => /^\|\s*folder\s*\|\s*may import/.test(l));
  if (start < 0) throw new Error("docs/architecture.md has no `| folder | may import |` table");
  const table = new Map<string, Set<string>>();
  for (const line of doc.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [folder, allowed] = line.split("|").slice(1, 3).map((c) => c.trim().replace(/`/g, ""));
    const list = allowed === "—" || allowed === "" ? [] : allowed!.split(",").map((s) => s.trim());
    table.set(folder!, new Set(list));
  }
  return table;
}

/** Folder-level cycles among cloud folders (strongly connected components of size > 1). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const files = productRoots.flatMap((d) => walk(path.join(root, d)));
const { edges, unresolved } = edgesOf(files);
const crossFolder = edges.filter((e) => {
  const a = cloudFolder(e.from);
  const b = cloudFolder(e.to);
  return a !== null && b !== null && a !== b;
});
const folderGraph = new Map<string, Set<string>>();
for (const e of crossFolder) {
  const a = cloudFolder(e.from)!;
  if (!folderGraph.has(a)) folderGraph.set(a, new Set());
  folderGraph.get(a)!.add(cloudFolder(e.to)!);
}
const show = (es: readonly Edge[]): string => es.map((e) => `${e.from} → ${e.specifier}`).join("\n");

describe("architecture (docs/architecture.md)", () => {
  it("parses the imports of every product file", () => {
    expect(files.length).toBeGreaterThan(200);
    expect(edges.length).toBeGreaterThan(500);
    expect(unresolved).toEqual([]);
  });

  it("no capability imports cloud/node (the composer imports capabilities, never the reverse)", () => {
    expect(show(crossFolder.filter((e) => cloudFolder(e.to) === "node" && cloudFolder(e.from) !== "cli"))).toBe("");
  });

  it("every cloud folder has an index.ts, and imports across folders go through it", () => {
    const dirs = new Set(files.filter((f) => rel(f).startsWith("cloud/")).map((f) => path.dirname(rel(f))));
    for (const d of [...dirs]) for (let p = path.dirname(d); p !== "cloud" && p !== "."; p = path.dirname(p)) dirs.add(p);
    expect([...dirs].filter((d) => !files.some((f) => rel(f) === `${d}/index.ts`)).sort()).toEqual([]);
    expect(show(crossFolder.filter((e) => !e.to.endsWith("/index.ts")))).toBe("");
  });

  it("product code does not import test/ (bench and scripts may use test/harness)", () => {
    const bad = edges.filter((e) => e.to.startsWith("test/") && !(area(e.to) === "test/harness" && ["bench", "scripts"].includes(area(e.from))));
    expect(show(bad)).toBe("");
  });

  it("shared/ imports only shared/, and firmware (but its host port) only firmware/ and shared/", () => {
    expect(show(edges.filter((e) => area(e.from) === "shared" && area(e.to) !== "shared"))).toBe("");
    expect(show(edges.filter((e) => area(e.from) === "firmware" && !["firmware", "shared"].includes(area(e.to))))).toBe("");
  });

  it("cloud folders import no cycle", () => {
    expect(cycles(folderGraph)).toEqual([]);
  });

  it("every cloud folder imports only what the may-import table allows", () => {
    const table = mayImportTable();
    const folders = [...new Set(files.map((f) => cloudFolder(rel(f))).filter((f): f is string => f !== null))].sort();
    expect(folders.filter((f) => !table.has(f)), "folders missing from the table").toEqual([]);
    expect([...table.keys()].filter((f) => !folders.includes(f)), "table rows for folders that do not exist").toEqual([]);
    const outside = edges.filter((e) => cloudFolder(e.from) !== null && cloudFolder(e.to) === null && area(e.to) !== "shared");
    const bad: string[] = [];
    for (const e of [...crossFolder, ...outside]) {
      const from = cloudFolder(e.from)!;
      const to = cloudFolder(e.to) ?? area(e.to);
      if (!table.get(from)!.has(to)) bad.push(`${e.from} → ${e.specifier} (${from} may not import ${to})`);
    }
    expect(bad).toEqual([]);
    // Rows list what is used: an allowed folder nobody imports is a stale row.
    const used = new Map<string, Set<string>>();
    for (const e of [...crossFolder, ...outside]) {
      const from = cloudFolder(e.from)!;
      if (!used.has(from)) used.set(from, new Set());
      used.get(from)!.add(cloudFolder(e.to) ?? area(e.to));
    }
    const stale = [...table].flatMap(([f, allowed]) => [...allowed].filter((a) => !used.get(f)?.has(a)).map((a) => `${f} → ${a}`));
    expect(stale, "allowed but unused (update docs/architecture.md)").toEqual([]);
  });

  it("cloud subject names are built in cloud/subjects only", () => {
    const literal = /["'`]xsfleet\.(v1|raft)\./;
    const bad: string[] = [];
    for (const f of files) {
      const r = rel(f);
      if (!r.startsWith("cloud/") || r.startsWith("cloud/subjects/")) continue;
      const code = readFileSync(f, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      code.split("\n").forEach((line, i) => { if (literal.test(line)) bad.push(`${r}:${i + 1}: ${line.trim()}`); });
    }
    expect(bad).toEqual([]);
  });
});
