// `xsfleet up` stops cleanly whatever stops it, and tells the truth about
// its processes while it runs:
//  - Ctrl-C as a terminal sends it (SIGINT to the whole process group):
//    stops in the documented order, every child process gone, in < 15 s;
//    before that, a cloud node killed with SIGKILL is reported down with its
//    signal, and restarted;
//  - SIGTERM to the group (a service manager): the same;
//  - `up` itself SIGKILLed: its children notice and stop by themselves.
// Assertions are on process existence and on what `up` prints, never on the
// timing of individual steps; 15 s is the documented bound for the whole stop.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../cloud/infra";
import { descendants, startUp, waitGone } from "./up-process";

const stopBoundMs = 15_000;

async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function ordered(out: string, lines: string[]): void {
  let at = -1;
  for (const l of lines) {
    const i = out.indexOf(l, at + 1);
    expect(i, `"${l}" after the previous stop stage`).toBeGreaterThan(at);
    at = i;
  }
}

describe("xsfleet up: stopping and process status", () => {
  it("Ctrl-C (SIGINT to the process group) stops everything in order; a SIGKILLed cloud node is shown down and restarted", async () => {
    const up = await startUp(["--topology", "direct", "--devices", "3", "--actuators", "1", "--cloud-nodes", "2", "--heartbeat-ms", "1000",
      "--dashboard-port", String(await freePort())]);
    let pids: number[] = [];
    try {
      // Every device online, the Raft replicas up, and heartbeat/SWIM membership agreeing on both cloud nodes.
      await up.waitFor(/devices 3\/3 online.*cloud 2\/2 up \| raft 3\/3 \| members 2 up/, "stack up", 150_000);
      const dashUrl = (await up.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+)/, "dashboard URL"))[1]!;
      const fleet = (await (await fetch(`${dashUrl}/api/fleet`)).json()) as { devices: { deviceId: string }[] };
      expect(fleet.devices.map((d) => d.deviceId).sort()).toEqual(["sim-0", "sim-1", "sim-2"]);

      // kill -9 one cloud node: the log names the signal, the status line shows it down at once, then it is back.
      const victim = descendants(up.pgid).find((p) => p.cmd.includes("--node-id cloud-2"));
      expect(victim, "cloud-2 process").toBeDefined();
      process.kill(victim!.pid, "SIGKILL");
      await up.waitFor(/cloud node cloud-2 killed by SIGKILL; restarting in [\d.]+ s/, "exit logged with its signal", 30_000);
      await up.waitFor(/cloud 1\/2 up \(cloud-2 killed by SIGKILL, restarting\)/, "status line shows it down", 30_000);
      await up.waitFor(/cloud node cloud-2 restarted \(pid \d+, restart 1\)/, "restart logged", 30_000);
      const after = up.output().length;
      await up.waitFor(/cloud 2\/2 up \| raft 3\/3/, "status line shows it up again", 60_000, after);
      // Restarted for real: its second "cloud node started" (a node still loading is simply killed by SIGTERM).
      await until("cloud-2 started again", () => (readFileSync(path.join(up.stateDir, "logs", "cloud-2.log"), "utf8").match(/"cloud node started"/g) ?? []).length === 2);
      const cluster = (await (await fetch(`${dashUrl}/api/cluster`)).json()) as {
        processes: { name: string; running: boolean; restarts: number; lastExit: string | null }[];
      };
      expect(cluster.processes.find((p) => p.name === "cloud-2")).toMatchObject({ running: true, restarts: 1, lastExit: "killed by SIGKILL" });
      expect(cluster.processes.filter((p) => p.running).map((p) => p.name).sort())
        .toEqual(["cloud-1", "cloud-2", "control-1", "control-2", "control-3", "paxos-1", "paxos-2", "paxos-3"]);

      pids = descendants(up.pgid).map((p) => p.pid);
      const names = descendants(up.pgid).map((p) => p.cmd);
      expect(names.filter((c) => c.includes("nats-server -c"))).toHaveLength(1);
      expect(names.filter((c) => c.includes("controlplane/main.ts"))).toHaveLength(3);
      expect(names.filter((c) => c.includes("paxos/main.ts"))).toHaveLength(3);
      expect(names.filter((c) => c.includes(" cloud --node-id"))).toHaveLength(2);

      process.kill(-up.pgid, "SIGINT");
      const exit = await up.exited(stopBoundMs);
      expect(exit.code).toBe(0);
      expect(await waitGone(pids, 1_000), "child processes left running").toEqual([]);
      const out = up.output();
      ordered(out, ["stopping (SIGINT)", "fleet: clean disconnects", "cloud: SIGTERM", "control plane: stopping replicas", "broker: stopping nats-server", "stopped in"]);
      expect(out).toContain("cloud: cloud-1 exited with code 0, cloud-2 exited with code 0");
      expect(out).toContain("control plane: control-1 exited with code 0, control-2 exited with code 0, control-3 exited with code 0");
      expect(out).not.toMatch(/second signal|killing everything/);
    } finally {
      await up.cleanup(pids);
    }
  }, 240_000);

  it("SIGTERM to the process group stops it the same way", async () => {
    const up = await startUp(["--topology", "direct", "--devices", "2", "--registry", "kv", "--cloud-nodes", "1", "--heartbeat-ms", "1000", "--dashboard-port", "0"]);
    let pids: number[] = [];
    try {
      await up.waitFor(/devices 2\/2 online.*cloud 1\/1 up/, "stack up", 120_000);
      pids = descendants(up.pgid).map((p) => p.pid);
      expect(pids.length).toBeGreaterThanOrEqual(2);
      process.kill(-up.pgid, "SIGTERM");
      expect((await up.exited(stopBoundMs)).code).toBe(0);
      expect(await waitGone(pids, 1_000), "child processes left running").toEqual([]);
      ordered(up.output(), ["stopping (SIGTERM)", "fleet: clean disconnects", "cloud: SIGTERM", "cloud: cloud-1 exited with code 0", "broker: stopping nats-server"]);
    } finally {
      await up.cleanup(pids);
    }
  }, 180_000);

  it("if `up` is SIGKILLed, its broker and cloud nodes stop by themselves", async () => {
    const up = await startUp(["--topology", "direct", "--devices", "2", "--registry", "kv", "--cloud-nodes", "1", "--heartbeat-ms", "1000", "--dashboard-port", "0"]);
    let pids: number[] = [];
    try {
      await up.waitFor(/devices 2\/2 online.*cloud 1\/1 up/, "stack up", 120_000);
      const tree = descendants(up.pgid);
      pids = tree.map((p) => p.pid);
      expect(tree.some((p) => p.cmd.includes("nats-server -c"))).toBe(true);
      process.kill(up.pgid, "SIGKILL");
      // The children are in their own process groups: nothing but the parent-death signal reaches them.
      expect(await waitGone(pids, stopBoundMs), "orphans left running").toEqual([]);
    } finally {
      await up.cleanup(pids);
    }
  }, 180_000);
});
