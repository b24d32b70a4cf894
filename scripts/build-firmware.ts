// npm run build:firmware [-- --target lin|esp32/<board>]… [--role R]… [--force]
// Builds every role manifest (manifests/<role>.json) with the Moddable SDK's
// mcconfig: for the lin simulator (what the tests and `xsfleet up --moddable`
// run in mcsim) and for ESP32 as far as this machine allows (all of it with
// ESP-IDF; without it, up to the XS archive: see firmware/host/mcsim/build.ts).
// Gets the SDK first (scripts/ensure-moddable.sh). Cached by input hash.
import { buildFirmware, esp32BoardDefault, roleManifests, type FirmwareBuild } from "../firmware/host/mcsim/build";
import { ensureModdableSdk } from "../firmware/host/mcsim/sdk";

function args(argv: string[]): { targets: string[]; roles: string[]; force: boolean } {
  const targets: string[] = [];
  const roles: string[] = [];
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--target") targets.push(argv[++i] ?? "");
    else if (a === "--role") roles.push(argv[++i] ?? "");
    else if (a === "--force") force = true;
    else if (a === "--help" || a === "-h") {
      console.log("usage: npm run build:firmware -- [--target lin|esp32/<board>]… [--role sensor|actuator|…]… [--force]");
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (see --help)`);
  }
  return { targets: targets.length ? targets : ["lin", esp32BoardDefault], roles: roles.length ? roles : roleManifests().map((m) => m.role), force };
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KB`;
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  const t0 = Date.now();
  const sdk = await ensureModdableSdk();
  console.log(`Moddable SDK ${sdk.version} at ${sdk.root}`);
  const builds: FirmwareBuild[] = [];
  for (const target of a.targets) {
    for (const role of a.roles) builds.push(await buildFirmware({ role, target, sdk, force: a.force }));
  }
  console.log("\nrole       target          time     preloaded slots  code      our byte code  SDK byte code  note");
  for (const b of builds) {
    const x = b.archive;
    console.log(`${b.role.padEnd(10)} ${b.target.padEnd(15)} ${(b.reused ? "cached" : `${(b.durationMs / 1000).toFixed(0)} s`).padStart(6)}   ${String(x.preloadedSlots).padStart(15)}  ${kb(x.codeBytes).padStart(8)}  ${kb(x.xsbBytes.ours).padStart(13)}  ${kb(x.xsbBytes.sdk).padStart(13)}  ${b.stoppedBefore ? `stopped before ${b.stoppedBefore}` : b.mcSo ?? "built"}`);
  }
  console.log("\n0 TypeScript errors, 0 mcmanifest/xsc/xsl warnings from our code (either fails the build); the SDK's TCP listener.js prints \"cannot optimize native!\" when compiled (see sdkWarningAllowed)");
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(`build:firmware failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
