// Run TypeScript modules on the real XS engine (Moddable's XS, built by
// @agoric/xsnap at npm ci). The entry module's default export is called with
// a JSON input; its (JSON-serialisable) result comes back with xsnap's meter.
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..");

/** What xsnap reports per command: heap slots in use and bytes allocated. */
export interface XsMeter {
  compute?: number;
  allocate?: number;
  currentHeapCount?: number;
  /** Only with the metered worker of bench/lib/xsnap-meter.ts. */
  chunks?: number;
  peakChunks?: number;
  peakHeapCount?: number;
}

export interface XsRun<T = unknown> {
  result: T;
  meter: XsMeter;
  /** Meter after loading the bundle, before the entry ran. */
  loadMeter: XsMeter;
}

export class XsError extends Error {
  constructor(message: string, readonly xsStack: string) {
    super(message);
  }
}

/** Bundles a TS entry for XS: one IIFE script, no Node built-ins allowed. */
export async function bundleForXs(entryFile: string, opts: { minify?: boolean } = {}): Promise<string> {
  const out = await build({
    entryPoints: [path.resolve(repoRoot, entryFile)],
    bundle: true,
    write: false,
    format: "iife",
    globalName: "__xsEntry",
    platform: "neutral",
    target: "es2022",
    minify: opts.minify ?? false,
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

/** Runs `entryFile`'s default export once per input, all in one XS worker. */
export async function runManyOnXs<T = unknown>(entryFile: string, inputs: unknown[], opts: { xsnapBin?: string } = {}): Promise<XsRun<T>[]> {
  const code = await bundleForXs(entryFile);
  const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-xs-"));
  const bundlePath = path.join(dir, "bundle.js");
  writeFileSync(bundlePath, code);
  try {
    const stdout = await runChild(bundlePath, JSON.stringify(inputs), opts.xsnapBin);
    const marker = stdout.lastIndexOf("@@XSRESULT@@");
    if (marker < 0) throw new Error(`xsnap child printed no result:\n${stdout}`);
    const raw = JSON.parse(stdout.slice(marker + "@@XSRESULT@@".length)) as Array<{
      ok: boolean; value?: T; error?: string; stack?: string; meter?: XsMeter; loadMeter?: XsMeter;
    }>;
    return raw.map((r) => {
      if (!r.ok) throw new XsError(`on XS: ${r.error}`, r.stack ?? "");
      return { result: r.value as T, meter: r.meter ?? {}, loadMeter: r.loadMeter ?? {} };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runOnXs<T = unknown>(entryFile: string, input?: unknown): Promise<XsRun<T>> {
  const [run] = await runManyOnXs<T>(entryFile, [input ?? null]);
  return run!;
}

function runChild(bundlePath: string, stdin: string, xsnapBin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "xs-child.mjs"), bundlePath], {
      cwd: repoRoot,
      env: xsnapBin ? { ...process.env, XSFLEET_XSNAP_BIN: xsnapBin } : process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0 && !out.includes("@@XSRESULT@@")) reject(new Error(`xsnap child exited ${code}: ${err}${out}`));
      else resolve(out);
    });
    child.stdin.end(stdin);
  });
}
