// What xsl put in the firmware image, read from its output (mc.xs.c) and the
// compiled modules (*.xsb) in mcconfig's temporary directory:
//   preloaded heap   slots built at link time that live in flash (mxHeapCount)
//   code             byte code of the preloaded modules, bytes (gxCode arrays)
//   keys, aliases    property names; preloaded objects that may be written (each
//                    costs a RAM alias slot when it is)
//   xsb              byte code per module, split ours (firmware/, shared/) / the SDK's
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface XsArchiveStats {
  preloadedSlots: number;
  codeBytes: number;
  keys: number;
  aliases: number;
  modules: number;
  xsbBytes: { ours: number; sdk: number };
}

function define(src: string, name: string): number {
  const m = new RegExp(`#define ${name} (\\d+)`).exec(src);
  if (!m) throw new Error(`mc.xs.c has no ${name}`);
  return Number(m[1]);
}

export function readArchiveStats(appTmpDir: string): XsArchiveStats {
  const src = readFileSync(path.join(appTmpDir, "mc.xs.c"), "utf8");
  let codeBytes = 0;
  for (const m of src.matchAll(/static const txU1 gxCode\d+\[(\d+)\];/g)) codeBytes += Number(m[1]);
  // The modules of this build, as its makefile lists them (the work directory may hold stale ones).
  const makefile = readFileSync(path.join(appTmpDir, "makefile"), "utf8");
  const listed = new Set([...makefile.matchAll(/\$\(MODULES_DIR\)\/(\S+\.xsb)/g)].map((m) => m[1]!));
  const xsb = { ours: 0, sdk: 0 };
  const modulesDir = path.join(appTmpDir, "modules");
  for (const rel of listed) {
    const p = path.join(modulesDir, rel);
    if (!existsSync(p)) continue;
    if (rel.startsWith("firmware/") || rel.startsWith("shared/")) xsb.ours += statSync(p).size;
    else xsb.sdk += statSync(p).size;
  }
  const modules = listed.size;
  return {
    preloadedSlots: define(src, "mxHeapCount"), codeBytes, keys: define(src, "mxKeysCount"), aliases: define(src, "mxAliasCount"), modules, xsbBytes: xsb,
  };
}
