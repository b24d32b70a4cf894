// The CLI as a user runs it: help everywhere, clear usage errors. (`xsfleet
// up` bringing a whole stack up and stopping it: stop.test.ts; in a
// browser: dashboard.browser.test.ts.)
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../cloud/infra";

const root = path.resolve(import.meta.dirname, "..", "..");
const bin = path.join(root, "bin", "xsfleet.mjs");
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args], { cwd: root });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe("xsfleet CLI", () => {
  it("has --help on every command", async () => {
    const main = await cli(["--help"]);
    expect(main.code).toBe(0);
    for (const cmd of ["up", "sim", "cloud", "status"]) {
      expect(main.out).toContain(cmd);
      const r = await cli([cmd, "--help"]);
      expect(r.code, `${cmd} --help`).toBe(0);
      expect(r.out).toMatch(/Usage|usage/);
    }
  });

  it("explains usage errors and how to fix them", async () => {
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "frobnicate"');
    const bad = await cli(["sim", "--broker", "mqtt://127.0.0.1:1", "--devices", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--devices must be a whole number");
    expect(bad.err).toContain("xsfleet sim --help");
    const noBroker = await cli(["status", "--nats", "nats://127.0.0.1:1"]);
    expect(noBroker.code).toBe(1);
    expect(noBroker.err).toMatch(/cannot reach NATS.*npm start/);
  });
});
