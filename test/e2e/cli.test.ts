// The CLI as a user runs it: help everywhere, clear usage errors, and
// `xsfleet up` bringing a whole stack to "all devices online" and stopping
// cleanly on Ctrl-C.
import { describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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

  it("`up` runs broker, cloud nodes and a fleet until every device is online, then stops cleanly on SIGINT", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "xsfleet-up-"));
    const basePort = await freePort();
    const child = spawn(process.execPath, [bin, "up", "--devices", "6", "--actuators", "1", "--cloud-nodes", "2",
      "--state-dir", stateDir, "--base-port", String(basePort), "--heartbeat-ms", "1000", "--dashboard-port", String(await freePort())], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          // Every device online, the Raft replicas up, and SWIM/heartbeat membership agreeing on both cloud nodes.
          if (/devices 6\/6 online.*raft 3\/3 \| members 2 up/.test(out)) resolve();
        });
        child.once("exit", (code) => reject(new Error(`up exited early (${code}):\n${out}`)));
      });
      const dashUrl = /dashboard: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      expect(dashUrl).toBeDefined();
      const fleet = (await (await fetch(`${dashUrl}/api/fleet`)).json()) as { devices: { deviceId: string }[]; total?: number };
      expect(fleet.devices.map((d) => d.deviceId).filter((id) => id.startsWith("sim-")).length).toBe(6);
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(out).toContain("broker: starting 1 nats-server");
      expect(out).toContain("cloud: API answering");
      expect(out).toContain("registry: 6 devices registered (6 new) in the Raft control plane registry");
      expect(out).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toContain("broker: stopping nats-server");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 180_000);
});
