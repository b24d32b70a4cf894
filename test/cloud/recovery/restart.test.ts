// Restart with real child processes: a child that keeps crashing is
// restarted with growing, jittered delays, then the supervisor escalates:
// the node steps down from its singleton role and a standby takes it over
// at once (not after the lease TTL).

import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../cloud/base";
import { ControlStateMachine } from "../../../cloud/control";
import { ControlPlaneLock } from "../../../cloud/lock";
import { RecoveryHistory } from "../../../cloud/membership";
import { spawn } from "node:child_process";
import { RoleHolder, Supervisor, SupervisorState, type ExitInfo, type Runnable } from "../../../cloud/recovery";
import { until } from "../../harness/wait";
import { localProposer } from "../../harness/local-proposer";

describe("supervisor", () => {
  it("restarts a crashing child with exponential backoff, then escalates to failover", async () => {
    // One in-process control plane, reached by both nodes through their own lock client.
    const propose = localProposer(new ControlStateMachine());
    const history = new RecoveryHistory("n1");
    const TTL_MS = 10_000;
    const a = new RoleHolder({ lock: new ControlPlaneLock({ propose, ownerId: "n1" }), role: "role/retry-loop", ttlMs: TTL_MS, history });
    a.start();
    await until("n1 to hold the role", () => a.isActive());
    const b = new RoleHolder({ lock: new ControlPlaneLock({ propose, ownerId: "n2" }), role: "role/retry-loop", ttlMs: TTL_MS, config: { retryIntervalMs: 50 } });
    b.start();

    let escalatedAtMs = 0;
    const sup = new Supervisor({
      unit: childProcessUnit("crasher", process.execPath, ["-e", "setTimeout(() => process.exit(3), 50)"]),
      restart: { attemptsMax: 3, backoffBaseMs: 100, backoffMaxMs: 2000, jitterRatio: 0.5, resetAfterMs: 60_000 },
      random: seededRandom(7),
      history,
      onEscalate: async () => {
        escalatedAtMs = Date.now();
        await a.stepDown("supervisor gave up on crasher");
      },
    });
    sup.start();
    await until("the supervisor to escalate", () => sup.state === SupervisorState.Escalated);
    await until("n2 to take the role over", () => b.isActive());
    const takeoverMs = Date.now() - escalatedAtMs;

    const restarts = history.list({ kind: "restart" });
    expect(restarts.map((e) => e.action)).toEqual(["restarting", "restarting", "restarting", "escalated"]);
    expect(restarts.slice(0, 3).map((e) => e.detail.attempt)).toEqual([1, 2, 3]);
    for (const e of restarts.slice(0, 3)) expect((e.detail.exit as { code: number }).code).toBe(3);
    expect(sup.starts).toBe(4);
    expect(a.isActive()).toBe(false);
    expect(history.list({ kind: "failover" }).map((e) => e.action)).toContain("stepped-down");
    console.log(`[recovery] restart delays ${restarts.slice(0, 3).map((e) => `${String(e.detail.delayMs)} ms`).join(", ")}; ` +
      `escalated after ${sup.starts} starts; standby took the role ${takeoverMs} ms after escalation (lease TTL ${TTL_MS} ms)`);
    await a.stop();
    await b.stop();
    await sup.stop();
  }, 60_000);

  it("counts a unit that fails to start as a failed attempt", async () => {
    let escalated = false;
    const sup = new Supervisor({
      unit: { name: "broken", start: async () => { throw new Error("no such binary"); } },
      restart: { attemptsMax: 2, backoffBaseMs: 10, backoffMaxMs: 20, jitterRatio: 0, resetAfterMs: 1000 },
      onEscalate: () => { escalated = true; },
    });
    sup.start();
    await until("escalation", () => escalated);
    expect(sup.starts).toBe(3);
  });
});

/** A child process as a Runnable: started with spawn, stopped with SIGTERM then SIGKILL. */
function childProcessUnit(name: string, command: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; stopGraceMs?: number; onOutput?: (line: string) => void } = {}): Runnable {
  return {
    name,
    start: async () => {
      const child = spawn(command, [...args], { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise<ExitInfo>((resolve) => {
        child.once("error", (e) => resolve({ code: null, signal: null, error: e.message }));
        child.once("exit", (code, signal) => resolve({ code, signal }));
      });
      child.stdout?.on("data", (b: Buffer) => opts.onOutput?.(b.toString()));
      child.stderr?.on("data", (b: Buffer) => opts.onOutput?.(b.toString()));
      await new Promise<void>((resolve) => {
        child.once("spawn", () => resolve());
        child.once("error", () => resolve());
      });
      return {
        exited,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill("SIGTERM");
          const t = setTimeout(() => child.kill("SIGKILL"), opts.stopGraceMs ?? 5000);
          await exited;
          clearTimeout(t);
        },
      };
    },
  };
}
