// The firmware tsconfig must reject Node APIs: the device has none of them.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");
const tsc = path.join(root, "node_modules", ".bin", "tsc");

function typecheckFirmwareFile(source: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(path.join(root, "firmware", ".guard-"));
  try {
    writeFileSync(path.join(dir, "probe.ts"), source);
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["./probe.ts", "../moddable-typings.d.ts", "../types/**/*.d.ts"] }));
    try {
      execFileSync(tsc, ["-p", path.join(dir, "tsconfig.json")], { stdio: "pipe" });
      return { ok: true, output: "" };
    } catch (e) {
      const err = e as { stdout?: Buffer };
      return { ok: false, output: err.stdout?.toString() ?? String(e) };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("firmware typecheck has Moddable typings and no Node types", () => {
  it("accepts Moddable modules", () => {
    const r = typecheckFirmwareFile(`import Timer from "timer";\nconst t = Timer.set(() => {}, 10);\nTimer.clear(t);\nexport {};\n`);
    expect(r.output).toBe("");
    expect(r.ok).toBe(true);
  });

  it("rejects importing a Node built-in", () => {
    const r = typecheckFirmwareFile(`import { readFileSync } from "node:fs";\nexport const x = readFileSync;\n`);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/node:fs/);
  });

  it("rejects Node globals such as process and Buffer", () => {
    const r = typecheckFirmwareFile(`export const a = process.env.HOME;\nexport const b = Buffer.from("x");\n`);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/process/);
    expect(r.output).toMatch(/Buffer/);
  });
});
