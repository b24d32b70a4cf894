// Fast static checks of the Moddable manifests (the real build is
// test/moddable/mcsim.test.ts and npm run build:firmware): valid JSON, the
// includes we rely on, the config keys the firmware reads declared for each
// platform, and every module in each platform entry's import closure mapped
// to an existing file, so a new import cannot silently break a device build.
import { describe, expect, it } from "vitest";
import { build } from "esbuild";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../harness/xs";
import { roleManifests } from "../../firmware/host/mcsim/build";

const manifestsDir = path.join(repoRoot, "manifests");
type Modules = Record<string, string | string[]>;
interface Section {
  include?: string[]; modules?: Modules; preload?: string[]; config?: Record<string, unknown>;
}
interface Manifest extends Section {
  platforms?: Record<string, Section>;
}
const read = (f: string): Manifest => JSON.parse(readFileSync(path.join(manifestsDir, f), "utf8")) as Manifest;

/** Moddable SDK modules the firmware imports (provided by the included manifests). */
const sdkModules = ["timer", "time", "mqtt/js", "socket", "mc/config", "instrumentation", "preference", "file", "flash", "net", "debug", "embedded:*"];
const platforms = ["esp32", "lin"] as const;

/** Config keys read through Settings in these files. */
function keysRead(files: string[]): Set<string> {
  const keys = new Set<string>();
  for (const f of files) {
    const src = readFileSync(path.join(repoRoot, f), "utf8");
    for (const m of src.matchAll(/\b(?:s|settings)\.(?:text|number|int|choice|has)\("([A-Za-z0-9]+)"/g)) keys.add(m[1]!);
  }
  return keys;
}

describe("Moddable manifests", () => {
  const shared = read("manifest_xsfleet.json");

  it("each role manifest includes the shared manifest and sets its role", () => {
    const roles = roleManifests();
    expect(roles.map((r) => r.role)).toEqual(expect.arrayContaining(["sensor", "actuator"]));
    for (const r of roles) {
      const m = read(path.basename(r.manifest));
      expect(m.include).toEqual(["./manifest_xsfleet.json"]);
      expect(m.config?.role).toBe(r.role);
    }
    expect(shared.include).toEqual(expect.arrayContaining([
      "$(MODDABLE)/examples/manifest_base.json",
      "$(MODDABLE)/examples/manifest_net.json",
      "$(MODDABLE)/examples/io/tcp/mqtt/manifest_mqtt.json",
      "$(MODDABLE)/modules/base/instrumentation/manifest.json",
    ]));
    expect(Object.keys(shared.platforms ?? {})).toEqual(expect.arrayContaining([...platforms, "..."]));
  });

  it("declares every config key the firmware reads, per platform", () => {
    const common = keysRead(["firmware/settings.ts"]);
    expect(common.size).toBeGreaterThan(10);
    for (const p of platforms) {
      const dir = path.join("firmware", p);
      const own = keysRead(readdirSync(path.join(repoRoot, dir)).filter((f) => f.endsWith(".ts")).map((f) => path.join(dir, f)));
      expect(own.size, p).toBeGreaterThan(0);
      const declared = new Set([...Object.keys(shared.config ?? {}), ...Object.keys(shared.platforms?.[p]?.config ?? {})]);
      for (const k of [...common, ...own]) expect([...declared], `config.${k} (${p})`).toContain(k);
    }
    for (const k of ["ssid", "password", "sntp"]) expect(Object.keys(shared.config ?? {})).toContain(k);
  });

  for (const p of platforms) {
    it(`maps every module firmware/${p}/main.ts imports to a file (${p})`, async () => {
      const out = await build({
        entryPoints: [path.join(repoRoot, "firmware", p, "main.ts")], bundle: true, write: false, metafile: true,
        format: "esm", platform: "neutral", external: [...sdkModules, "./sigpipe"], logLevel: "silent", absWorkingDir: repoRoot,
      });
      const inputs = Object.keys(out.metafile!.inputs).map((f) => f.replace(/\.ts$/, ""));
      expect(inputs).toContain("firmware/device/runtime");
      const modules: Modules = { ...shared.modules, ...shared.platforms?.[p]?.modules };
      const resolve = (name: string): string | undefined => {
        const exact = modules[name];
        if (typeof exact === "string") return exact;
        const dir = name.slice(0, name.lastIndexOf("/"));
        const wild = modules[dir + "/*"];
        if (typeof wild === "string") return wild.slice(0, -1) + name.slice(dir.length + 1);
        return undefined;
      };
      for (const name of inputs) {
        const target = resolve(name);
        expect(target, `module ${name} is not mapped for ${p}`).toBeDefined();
        expect(existsSync(path.resolve(manifestsDir, target! + ".ts")), `${target}.ts`).toBe(true);
      }
      // The entry shim re-exports the platform's main; every preload names a mapped module.
      const entry = modules["*"];
      expect(entry).toBe(`./${p}/main`);
      expect(readFileSync(path.join(manifestsDir, p, "main.js"), "utf8")).toContain(`from "firmware/${p}/main"`);
      for (const pre of [...(shared.preload ?? []), ...(shared.platforms?.[p]?.preload ?? [])]) expect(Object.keys(modules)).toContain(pre);
    });
  }
});
