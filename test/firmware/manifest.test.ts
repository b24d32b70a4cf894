// The Moddable manifests cannot be built here (no SDK), so check what can be
// checked: valid JSON, the includes we rely on, the config keys main.ts reads,
// and that every module in firmware/main.ts's import closure is mapped by
// manifest_xsfleet.json to an existing file (so a new import cannot silently
// break the device build).
import { describe, expect, it } from "vitest";
import { build } from "esbuild";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../harness/xs";

const manifestsDir = path.join(repoRoot, "manifests");
const read = (f: string) => JSON.parse(readFileSync(path.join(manifestsDir, f), "utf8")) as {
  include?: string[]; modules?: Record<string, string | string[]>; preload?: string[]; config?: Record<string, unknown>;
};

/** Moddable SDK modules the firmware imports (provided by the included manifests). */
const sdkModules = ["timer", "mqtt/js", "mc/config", "instrumentation", "preference"];

describe("Moddable manifests", () => {
  const shared = read("manifest_xsfleet.json");

  it("sensor and actuator include the shared manifest and set their role", () => {
    for (const [file, role] of [["sensor.json", "sensor"], ["actuator.json", "actuator"]] as const) {
      const m = read(file);
      expect(m.include).toEqual(["./manifest_xsfleet.json"]);
      expect(m.config?.role).toBe(role);
    }
    expect(shared.include).toEqual(expect.arrayContaining([
      "$(MODDABLE)/examples/manifest_base.json",
      "$(MODDABLE)/examples/manifest_net.json",
      "$(MODDABLE)/examples/io/tcp/mqtt/manifest_mqtt.json",
    ]));
  });

  it("declares every config key main.ts reads", () => {
    const main = readFileSync(path.join(repoRoot, "firmware", "main.ts"), "utf8");
    const keys = new Set<string>();
    for (const m of main.matchAll(/(?:str|num)\("([A-Za-z]+)"/g)) keys.add(m[1]!);
    for (const m of main.matchAll(/config\.([A-Za-z]+)/g)) keys.add(m[1]!);
    keys.delete("flashTotalBytes"); // optional, has a default
    expect(keys.size).toBeGreaterThan(8);
    for (const k of keys) expect(Object.keys(shared.config ?? {}), `config.${k}`).toContain(k);
    for (const k of ["ssid", "password", "sntp"]) expect(Object.keys(shared.config ?? {})).toContain(k);
  });

  it("maps every module firmware/main.ts imports to a file", async () => {
    const out = await build({
      entryPoints: [path.join(repoRoot, "firmware", "main.ts")], bundle: true, write: false, metafile: true,
      format: "esm", platform: "neutral", external: sdkModules, logLevel: "silent", absWorkingDir: repoRoot,
    });
    const inputs = Object.keys(out.metafile!.inputs).map((f) => f.replace(/\.ts$/, ""));
    expect(inputs).toContain("firmware/device/runtime");
    const modules = shared.modules ?? {};
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
      expect(target, `module ${name} is not mapped in manifest_xsfleet.json`).toBeDefined();
      expect(existsSync(path.resolve(manifestsDir, target! + ".ts")), `${target}.ts`).toBe(true);
    }
    // The entry shim re-exports firmware/main, and every preload names mapped modules.
    expect(readFileSync(path.join(manifestsDir, "main.js"), "utf8")).toContain('from "firmware/main"');
    for (const p of shared.preload ?? []) expect(Object.keys(modules)).toContain(p);
    // Wildcard targets exist.
    for (const [k, v] of Object.entries(modules)) {
      if (k.endsWith("/*") && typeof v === "string") expect(readdirSync(path.resolve(manifestsDir, v.slice(0, -2))).length).toBeGreaterThan(0);
    }
  });
});
