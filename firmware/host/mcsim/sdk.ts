// The Moddable SDK on this machine: scripts/ensure-moddable.sh finds or
// builds it (tools + mcsim, once per SDK version, cached outside the
// repository) and prints its path; everything that runs mcconfig or mcsim
// gets its environment from here.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface ModdableSdk {
  /** $MODDABLE */
  root: string;
  version: string;
  /** build/bin/lin/release: mcconfig, xsc, xsl, mcsim */
  binDir: string;
  mcsim: string;
  xsbugLog: string;
}

let cached: Promise<ModdableSdk> | undefined;

/** Runs scripts/ensure-moddable.sh once per process; its progress goes to `log`. */
export function ensureModdableSdk(log: (line: string) => void = (l) => process.stderr.write(l + "\n")): Promise<ModdableSdk> {
  cached ??= new Promise<ModdableSdk>((resolve, reject) => {
    const child = spawn("bash", [path.join(repoRoot, "scripts", "ensure-moddable.sh")], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      const lines = err.split("\n");
      err = lines.pop()!;
      for (const l of lines) log(l);
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (err) log(err);
      const root = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !root) return reject(new Error(`scripts/ensure-moddable.sh failed (exit ${code}); see the lines above`));
      resolve(sdkAt(root));
    });
  });
  return cached;
}

export function sdkAt(root: string): ModdableSdk {
  const binDir = path.join(root, "build", "bin", "lin", "release");
  const stamp = path.join(root, "build", "xsfleet-built");
  const sdk: ModdableSdk = {
    root,
    version: existsSync(stamp) ? readFileSync(stamp, "utf8").trim() : "unknown",
    binDir,
    mcsim: path.join(binDir, "mcsim"),
    xsbugLog: path.join(root, "tools", "xsbug-log", "xsbug-log.js"),
  };
  for (const f of [path.join(binDir, "mcconfig"), sdk.mcsim, sdk.xsbugLog]) {
    if (!existsSync(f)) throw new Error(`Moddable SDK at ${root} is not built (${f} missing); run scripts/ensure-moddable.sh`);
  }
  return sdk;
}

/** Environment for mcconfig/make: the SDK's tools and the repository's TypeScript first on PATH. */
export function sdkEnv(sdk: ModdableSdk, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MODDABLE: sdk.root,
    PATH: [sdk.binDir, path.join(repoRoot, "node_modules", ".bin"), process.env.PATH ?? ""].join(path.delimiter),
    ...extra,
  };
}
