// Builds (once) an xsnap-worker whose meter also reports XS chunk bytes and
// peaks: the stock meter has only heap slots and total allocated space. The
// patch touches the meter's JSON line only; the engine is the same sources
// @agoric/xsnap built at npm ci. Used by bench:footprint, never by tests.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../test/harness/xs";

const pkgDir = path.join(repoRoot, "node_modules", "@agoric", "xsnap");
const workDir = path.join(repoRoot, "node_modules", ".cache", "xsfleet-xsnap-meter");

export function meteredXsnapBinary(log: (m: string) => void = () => {}): string {
  const bin = path.join(workDir, "xsnap-native", "xsnap", "build", "bin", "lin", "release", "xsnap-worker");
  if (existsSync(bin)) return bin;
  log("building an xsnap-worker with chunk metering (once, ~1 minute) …");
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  cpSync(path.join(pkgDir, "xsnap-native"), path.join(workDir, "xsnap-native"), { recursive: true });
  rmSync(path.join(workDir, "xsnap-native", "xsnap", "build"), { recursive: true, force: true });
  const src = path.join(workDir, "xsnap-native", "xsnap", "sources", "xsnap-worker.c");
  let c = readFileSync(src, "utf8");
  const fmtOld = `"\\"currentHeapCount\\":%u,"`;
  const argsOld = "fxGetCurrentHeapCount(the),";
  if (!c.includes(fmtOld) || !c.includes(argsOld)) throw new Error("xsnap-worker.c changed; update bench/lib/xsnap-meter.ts");
  c = c.replace(fmtOld, `"\\"chunks\\":%u,\\"peakChunks\\":%u,\\"peakHeapCount\\":%u,\\"currentHeapCount\\":%u,"`)
    .replace(argsOld, "(unsigned)fxXsfChunks(the), (unsigned)fxXsfPeakChunks(the), (unsigned)fxXsfPeakHeap(the), fxGetCurrentHeapCount(the),")
    .replace("extern xsIntegerValue fxGetCurrentHeapCount(xsMachine* the);",
      "extern xsIntegerValue fxGetCurrentHeapCount(xsMachine* the);\nextern xsIntegerValue fxXsfChunks(xsMachine* the);\n" +
      "extern xsIntegerValue fxXsfPeakChunks(xsMachine* the);\nextern xsIntegerValue fxXsfPeakHeap(xsMachine* the);");
  writeFileSync(src, c);
  // The machine's private fields are visible only where xsAll.h is included.
  const platform = path.join(workDir, "xsnap-native", "xsnap", "sources", "xsnapPlatform.c");
  writeFileSync(platform, readFileSync(platform, "utf8") +
    "\ntxSize fxXsfChunks(txMachine* the) { return the->currentChunksSize; }\n" +
    "txSize fxXsfPeakChunks(txMachine* the) { return the->peakChunksSize; }\n" +
    "txSize fxXsfPeakHeap(txMachine* the) { return the->peakHeapCount; }\n");
  const version = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")).version as string;
  execFileSync("make", [`MODDABLE=${path.join(pkgDir, "moddable")}`, "GOAL=release", `XSNAP_VERSION=${version}`,
    `CC=cc "-D__has_builtin(x)=1"`, "-f", "xsnap-worker.mk"], {
    cwd: path.join(workDir, "xsnap-native", "xsnap", "makefiles", "lin"), stdio: "pipe",
  });
  if (!existsSync(bin)) throw new Error(`build finished but ${bin} is missing`);
  return bin;
}
