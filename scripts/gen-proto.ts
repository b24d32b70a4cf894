// Generates shared/proto/xsfleet.gen.ts from shared/proto/xsfleet.proto.
// protobufjs parses the schema; the output is plain TypeScript over
// shared/proto/wire.ts — static code, no reflection or eval on the device.
// `npm run gen` writes the file; `npm run gen -- --check` fails when stale.
import protobuf from "protobufjs";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const protoPath = path.join(root, "shared/proto/xsfleet.proto");
const outPath = path.join(root, "shared/proto/xsfleet.gen.ts");

interface ScalarSpec { ts: string; wire: number; write: string; read: string; size: (v: string) => string; zero: string; isDefault: (v: string) => string }

const varint = (read: string, write = "varint"): ScalarSpec => ({
  ts: "number", wire: 0, write, read, size: (v) => `varintSize(${v})`, zero: "0", isDefault: (v) => `${v} === 0`,
});
const scalars: Record<string, ScalarSpec> = {
  double: { ts: "number", wire: 1, write: "double", read: "double", size: () => "8", zero: "0", isDefault: (v) => `${v} === 0` },
  float: { ts: "number", wire: 5, write: "float", read: "float", size: () => "4", zero: "0", isDefault: (v) => `${v} === 0` },
  fixed32: { ts: "number", wire: 5, write: "fixed32", read: "fixed32", size: () => "4", zero: "0", isDefault: (v) => `${v} === 0` },
  int32: varint("int32"),
  uint32: varint("uint32"),
  int64: varint("varint"),
  uint64: varint("uint64"),
  sint32: { ...varint("sint32"), write: "sint32", size: (v) => `varintSize(zigzag32(${v}))` },
  bool: { ts: "boolean", wire: 0, write: "bool", read: "bool", size: () => "1", zero: "false", isDefault: (v) => `!${v}` },
  string: { ts: "string", wire: 2, write: "string", read: "string", size: (v) => `stringSize(${v})`, zero: `""`, isDefault: (v) => `${v} === ""` },
  bytes: { ts: "Uint8Array", wire: 2, write: "bytes", read: "bytes", size: (v) => `bytesSize(${v})`, zero: "new Uint8Array(0)", isDefault: (v) => `${v}.length === 0` },
};

function tagBytes(id: number, wire: number): number {
  let v = id * 8 + wire;
  let n = 1;
  while (v >= 128) { v = Math.floor(v / 128); n++; }
  return n;
}

function genEnum(e: protobuf.Enum): string {
  const entries = Object.entries(e.values).map(([k, v]) => `  ${k}: ${v},`).join("\n");
  return `export const ${e.name} = Object.freeze({\n${entries}\n} as const);\nexport type ${e.name} = (typeof ${e.name})[keyof typeof ${e.name}];\n`;
}

function genMessage(m: protobuf.Type): string {
  const fields = m.fieldsArray.slice().sort((a, b) => a.id - b.id);
  const oneofMembers = new Set(m.oneofsArray.flatMap((o) => o.fieldsArray.map((f) => f.name)));
  const iface: string[] = [];
  const create: string[] = [];
  const size: string[] = [];
  const write: string[] = [];
  const read: string[] = [];
  for (const f of fields) {
    f.resolve();
    const comment = f.comment ? `  /** ${f.comment.replace(/\n/g, " ")} */\n` : "";
    const rt = f.resolvedType;
    const isEnum = rt instanceof protobuf.Enum;
    const isMsg = rt instanceof protobuf.Type;
    const spec = isEnum ? { ...scalars.int32!, ts: rt.name, zero: "0" } : scalars[f.type];
    if (!isMsg && !spec) throw new Error(`${m.name}.${f.name}: unsupported type ${f.type}`);
    const v = `m.${f.name}`;
    if (f.repeated) {
      if (!isMsg && spec!.wire !== 2) throw new Error(`${m.name}.${f.name}: repeated numeric fields (packed) are not supported`);
      const elemTs = isMsg ? rt.name : spec!.ts;
      iface.push(`${comment}  ${f.name}: ${elemTs}[];`);
      create.push(`    ${f.name}: init?.${f.name} ?? [],`);
      const tb = tagBytes(f.id, 2);
      if (isMsg) {
        size.push(`  for (const e of ${v}) { const n = size${rt.name}(e); s += ${tb} + varintSize(n) + n; }`);
        write.push(`  for (const e of ${v}) { w.tag(${f.id}, 2); w.varint(size${rt.name}(e)); write${rt.name}(w, e); }`);
        read.push(`      case ${f.id}: r.checkRepeated(m.${f.name}.length); m.${f.name}.push(read${rt.name}(r.sub())); break;`);
      } else {
        size.push(`  for (const e of ${v}) s += ${tb} + ${spec!.size("e")};`);
        write.push(`  for (const e of ${v}) { w.tag(${f.id}, 2); w.${spec!.write}(e); }`);
        read.push(`      case ${f.id}: r.checkRepeated(m.${f.name}.length); m.${f.name}.push(r.${spec!.read}()); break;`);
      }
    } else if (isMsg) {
      iface.push(`${comment}  ${f.name}?: ${rt.name};`);
      create.push(`    ...(init?.${f.name} !== undefined ? { ${f.name}: init.${f.name} } : {}),`);
      const tb = tagBytes(f.id, 2);
      size.push(`  if (${v} !== undefined) { const n = size${rt.name}(${v}); s += ${tb} + varintSize(n) + n; }`);
      write.push(`  if (${v} !== undefined) { w.tag(${f.id}, 2); w.varint(size${rt.name}(${v})); write${rt.name}(w, ${v}); }`);
      read.push(`      case ${f.id}: m.${f.name} = read${rt.name}(r.sub()); break;`);
    } else {
      const s = spec!;
      const optional = oneofMembers.has(f.name);
      iface.push(`${comment}  ${f.name}${optional ? "?" : ""}: ${s.ts};`);
      create.push(optional ? `    ...(init?.${f.name} !== undefined ? { ${f.name}: init.${f.name} } : {}),` : `    ${f.name}: init?.${f.name} ?? ${s.zero},`);
      const cond = optional ? `${v} !== undefined` : `!(${s.isDefault(v)})`;
      const tb = tagBytes(f.id, s.wire);
      const writeCall = s.write === "sint32" ? `w.varint(zigzag32(${v}${optional ? "!" : ""}))` : s.write === "bool" ? `w.varint(${v} ? 1 : 0)` : `w.${s.write}(${v}${optional ? "!" : ""})`;
      size.push(`  if (${cond}) s += ${tb} + ${s.size(v + (optional ? "!" : ""))};`);
      write.push(`  if (${cond}) { w.tag(${f.id}, ${s.wire}); ${writeCall}; }`);
      const readCall = isEnum ? `r.int32() as ${rt.name}` : `r.${s.read}()`;
      read.push(`      case ${f.id}: m.${f.name} = ${readCall}; break;`);
    }
  }
  const name = m.name;
  const doc = m.comment ? `/** ${m.comment.replace(/\n/g, " ")} */\n` : "";
  return `${doc}export interface ${name} {
${iface.join("\n")}
}

export function create${name}(init?: Partial<${name}>): ${name} {
  return {
${create.join("\n")}
  };
}

export function size${name}(m: ${name}): number {
  let s = 0;
${size.join("\n")}
  return s;
}

export function write${name}(w: Writer, m: ${name}): void {
${write.join("\n")}
}

export function encode${name}(m: ${name}): Uint8Array {
  const w = new Writer(size${name}(m));
  write${name}(w, m);
  return w.finish();
}

export function read${name}(r: Reader): ${name} {
  const m = create${name}();
  while (!r.done()) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    switch (field) {
${read.join("\n")}
      default: r.skip(wire);
    }
  }
  return m;
}

export function decode${name}(buf: Uint8Array, limits: DecodeLimits = defaultDecodeLimits): ${name} {
  return read${name}(new Reader(buf, limits));
}
`;
}

export function generate(): string {
  const parsed = protobuf.parse(readFileSync(protoPath, "utf8"), { keepCase: false, alternateCommentMode: true });
  const ns = parsed.root.lookup(parsed.package!) as protobuf.Namespace;
  const parts: string[] = [];
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Enum) parts.push(genEnum(nested));
    else if (nested instanceof protobuf.Type) parts.push(genMessage(nested));
  }
  return `// GENERATED by scripts/gen-proto.ts from xsfleet.proto — do not edit.
// Run \`npm run gen\` after changing the schema.
/* eslint-disable */
import { Reader, Writer, bytesSize, defaultDecodeLimits, stringSize, varintSize, zigzag32, type DecodeLimits } from "./wire";

export const schemaVersion = 1;

${parts.join("\n")}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const code = generate();
  if (process.argv.includes("--check")) {
    const current = readFileSync(outPath, "utf8");
    if (current !== code) {
      console.error("shared/proto/xsfleet.gen.ts is stale: run `npm run gen`");
      process.exit(1);
    }
    console.log("xsfleet.gen.ts is up to date");
  } else {
    writeFileSync(outPath, code);
    console.log(`wrote ${path.relative(root, outPath)}`);
  }
}
