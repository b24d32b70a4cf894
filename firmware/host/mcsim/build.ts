// Builds the firmware with the Moddable SDK's own toolchain (mcconfig: tsc,
// xsc, xsl, mcrez, cc) for the lin simulator and for ESP32 targets.
//
// - One build per role manifest (manifests/<role>.json; manifest_*.json are
//   includes), so a new role (gateway) is built by adding its manifest.
// - lin: a debug build (-d: traces reach xsbug-log), mc.so for mcsim.
// - esp32/<board>: an instrumented build (-i: free heap and CPU load). With
//   ESP-IDF ($IDF_PATH) it is the full `mcconfig -m` build; without it the
//   steps that need no ESP-IDF run (manifest, tsc, xsc, xsl preload/link,
//   mcrez) and the build stops before the C compile and link, which need
//   ESP-IDF's sdkconfig and the Xtensa toolchain.
// - Cached: a build is reused while its inputs (manifests, firmware and
//   shared sources, SDK and TypeScript versions, flags) hash the same.
// - Zero TypeScript errors (make fails) and zero mcmanifest/xsc/xsl warnings
//   (a warning fails the build), but one from the SDK's TCP listener
//   (`sdkWarningAllowed`). The SDK's simulated Wi-Fi module, which warned and
//   which the firmware does not use, is left out by a "~" entry on lin.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot, sdkEnv, type ModdableSdk } from "./sdk";
import { withBuildLock } from "./build-lock";
import { readArchiveStats, type XsArchiveStats } from "./archive-stats";

export type { XsArchiveStats };

export const buildRoot = path.join(repoRoot, ".build", "moddable");
/** Default ESP32 board for `npm run build:firmware`. */
export const esp32BoardDefault = "esp32/nodemcu";

export interface RoleManifest {
  role: string;
  /** Path relative to the repository root. */
  manifest: string;
}

/** manifests/<role>.json, sorted; manifest_*.json are shared includes. */
export function roleManifests(): RoleManifest[] {
  return readdirSync(path.join(repoRoot, "manifests"))
    .filter((f) => f.endsWith(".json") && !f.startsWith("manifest_"))
    .sort()
    .map((f) => ({ role: f.slice(0, -5), manifest: path.join("manifests", f) }));
}

export interface FirmwareBuild {
  role: string;
  /** "lin" or "esp32/<board>" */
  target: string;
  /** Where this role's outputs and build.json live. */
  outDir: string;
  /** lin: the app for mcsim. */
  mcSo?: string;
  archive: XsArchiveStats;
  /** True when a cached build with the same inputs was reused. */
  reused: boolean;
  durationMs: number;
  /** Set when the build stopped early, saying before which step and why. */
  stoppedBefore?: string;
  inputsHash: string;
}

export interface BuildOptions {
  role: string;
  target: string;
  sdk: ModdableSdk;
  log?: (line: string) => void;
  force?: boolean;
}

function filesUnder(dir: string, keep: (rel: string) => boolean, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, keep, base));
    else if (keep(path.relative(base, p))) out.push(p);
  }
  return out.sort();
}

/** Everything that goes into a build; a change anywhere rebuilds. */
export function firmwareInputsHash(sdk: ModdableSdk, target: string, flags: string): string {
  const h = createHash("sha256");
  const tsVersion = JSON.parse(readFileSync(path.join(repoRoot, "node_modules", "typescript", "package.json"), "utf8")).version as string;
  h.update(`sdk ${sdk.version} ${sdk.root}\nts ${tsVersion}\ntarget ${target}\nflags ${flags}\n`);
  const files = [
    ...filesUnder(path.join(repoRoot, "manifests"), () => true),
    ...filesUnder(path.join(repoRoot, "firmware"), (rel) => !rel.startsWith("host" + path.sep) && /\.(ts|js|json)$/.test(rel)),
    ...filesUnder(path.join(repoRoot, "shared"), (rel) => rel.endsWith(".ts")),
  ];
  for (const f of files) {
    h.update(path.relative(repoRoot, f) + "\n");
    h.update(readFileSync(f));
  }
  return h.digest("hex").slice(0, 20);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, logFile: string, log: (l: string) => void): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let partial = "";
    const onData = (d: Buffer): void => {
      const s = d.toString();
      output += s;
      const lines = (partial + s).split("\n");
      partial = lines.pop()!;
      for (const l of lines) if (/^### |error TS|^\S+\.(js|ts|json):\d+: warning: /.test(l)) log(l);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => {
      writeFileSync(logFile, output, { flag: "a" });
      resolve({ code, output });
    });
  });
}

/**
 * The one warning the SDK's own code prints that we cannot leave out: xsc on
 * the ECMA-419 TCP listener (modules/io/socket/<lin|lwip>/listener.js), which
 * the SDK's io manifest includes under mqtt/js and whose natives the TCP
 * socket's C code needs (without it the lin build does not link).
 */
// (Matched by path only: with parallel make the message may be cut into two lines.)
export const sdkWarningAllowed = /\/modules\/io\/socket\/(lin|lwip)\/listener\.js:\d+: warning: /;

/** xsc/xsl/mcmanifest warnings in a build log (gcc's own, file:line:col, are not theirs), less the allowed one. */
export function toolWarnings(output: string): string[] {
  return output.split("\n").map((l) => l.trimEnd())
    .filter((l) => /^### warning/.test(l) || /^\S+\.(js|ts|json):\d+: warning: /.test(l))
    .filter((l) => !sdkWarningAllowed.test(l));
}

function targetDir(target: string): string {
  return target.replace("/", "-");
}

export async function buildFirmware(o: BuildOptions): Promise<FirmwareBuild> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const lin = o.target === "lin";
  if (!lin && !o.target.startsWith("esp32/")) throw new Error(`target must be lin or esp32/<board>, got ${o.target}`);
  const manifest = roleManifests().find((m) => m.role === o.role);
  if (manifest === undefined) throw new Error(`no manifest for role ${o.role} (have ${roleManifests().map((m) => m.role).join(", ")})`);
  const idfPath = process.env.IDF_PATH;
  const flags = lin ? "-d" : idfPath ? "-i -m (ESP-IDF)" : "-i (no ESP-IDF)";
  const hash = firmwareInputsHash(o.sdk, o.target, flags);
  const base = path.join(buildRoot, targetDir(o.target));
  const outDir = path.join(base, o.role);
  const stampFile = path.join(outDir, "build.json");
  return withBuildLock(buildRoot, log, async () => {
    if (!o.force && existsSync(stampFile)) {
      const prev = JSON.parse(readFileSync(stampFile, "utf8")) as FirmwareBuild;
      if (prev.inputsHash === hash && (!lin || (prev.mcSo !== undefined && existsSync(prev.mcSo)))) {
        log(`[firmware] ${o.role} for ${o.target}: inputs unchanged, reusing ${path.relative(repoRoot, outDir)}`);
        return { ...prev, reused: true, durationMs: 0 };
      }
    }
    const t0 = Date.now();
    const work = path.join(base, "work"); // shared by all roles of a target: the XS engine objects are compiled once
    mkdirSync(work, { recursive: true });
    mkdirSync(outDir, { recursive: true });
    const logFile = path.join(outDir, "build.log");
    writeFileSync(logFile, "");
    log(`[firmware] building ${o.role} for ${o.target} with mcconfig (${flags}) …`);
    const env = sdkEnv(o.sdk);
    const mcconfigArgs = [lin ? "-d" : "-i", "-p", o.target, "-o", work];
    let output = "";
    let stoppedBefore: string | undefined;
    const step = async (cmd: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = env): Promise<void> => {
      const r = await run(cmd, args, extraEnv, cwd, logFile, log);
      output += r.output;
      if (r.code !== 0) {
        const tail = r.output.split("\n").filter((l) => l.trim() !== "").slice(-25).join("\n");
        throw new Error(`${path.basename(cmd)} failed for ${o.role} (${o.target}), exit ${r.code}:\n${tail}\nfull log: ${logFile}`);
      }
    };
    if (lin || idfPath) {
      await step(path.join(o.sdk.binDir, "mcconfig"), [...mcconfigArgs, "-m", ...(lin ? ["-t", "build"] : []), manifest.manifest], repoRoot);
    } else {
      // No ESP-IDF: generate the makefile, then make only the JavaScript archive and resources.
      await step(path.join(o.sdk.binDir, "mcconfig"), [...mcconfigArgs, manifest.manifest], repoRoot);
      const tmp = appTmpDir(work, o.target);
      const fakeIdf = mkdtempSync(path.join(tmpdir(), "xsfleet-no-idf-"));
      try {
        const expected = expectedIdfVersion(o.sdk);
        await step("make", ["-f", "makefile", `IDF_PATH=${fakeIdf}`, `IDF_VERSION=${expected}`,
          "-o", path.join(tmp, "xsProj-esp32", "build", "config", "sdkconfig.h"), "-j2",
          path.join(tmp, "mc.xs.c"), path.join(tmp, "mc.resources.c")], tmp);
      } finally {
        rmSync(fakeIdf, { recursive: true, force: true });
      }
      stoppedBefore = "C compile and link: ESP-IDF (idf.py, sdkconfig) and the Xtensa toolchain are not installed ($IDF_PATH unset)";
    }
    const warnings = toolWarnings(output);
    if (warnings.length > 0) throw new Error(`build of ${o.role} for ${o.target} printed warnings:\n${warnings.join("\n")}\nfull log: ${logFile}`);
    const tmp = appTmpDir(work, o.target);
    let mcSo: string | undefined;
    if (lin) {
      const built = findFile(path.join(work, "bin", "lin"), "mc.so");
      if (built === undefined) throw new Error(`mcconfig did not produce mc.so under ${work}/bin/lin`);
      mcSo = path.join(outDir, "mc.so");
      copyFileSync(built, mcSo);
    }
    const result: FirmwareBuild = {
      role: o.role, target: o.target, outDir, ...(mcSo !== undefined ? { mcSo } : {}), archive: readArchiveStats(tmp),
      reused: false, durationMs: Date.now() - t0, ...(stoppedBefore !== undefined ? { stoppedBefore } : {}), inputsHash: hash,
    };
    writeFileSync(stampFile, JSON.stringify(result, null, 2));
    log(`[firmware] built ${o.role} for ${o.target} in ${(result.durationMs / 1000).toFixed(1)} s${stoppedBefore ? ` (stopped before ${stoppedBefore})` : ""}`);
    return result;
  });
}

/** mcconfig's temporary directory for the app (named after the manifests folder). */
function appTmpDir(work: string, target: string): string {
  const dir = target === "lin" ? findDir(path.join(work, "tmp", "lin"), "manifests") : findDir(path.join(work, "tmp", ...target.split("/")), "manifests");
  if (dir === undefined) throw new Error(`no mcconfig output under ${work}/tmp for ${target}`);
  return dir;
}

function findDir(root: string, name: string): string | undefined {
  if (!existsSync(root)) return undefined;
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = path.join(root, e.name);
    if (e.name === name && existsSync(path.join(p, "makefile"))) return p;
    const deeper = findDir(p, name);
    if (deeper) return deeper;
  }
  return undefined;
}

function findFile(root: string, name: string): string | undefined {
  if (!existsSync(root)) return undefined;
  let best: { p: string; t: number } | undefined;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === name) {
        const t = statSync(p).mtimeMs;
        if (!best || t > best.t) best = { p, t };
      }
    }
  };
  walk(root);
  return best?.p;
}

/** The ESP-IDF version the SDK's esp32 manifest expects (build.EXPECTED_ESP_IDF). */
function expectedIdfVersion(sdk: ModdableSdk): string {
  const m = JSON.parse(readFileSync(path.join(sdk.root, "build", "devices", "esp32", "manifest.json"), "utf8")) as { build?: { EXPECTED_ESP_IDF?: string } };
  return m.build?.EXPECTED_ESP_IDF ?? "v5.0";
}
