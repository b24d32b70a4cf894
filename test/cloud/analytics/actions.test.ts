// Rule actions: a webhook against a real local HTTP server (retried with
// backoff after a 5xx, not after a 4xx, the idempotency key in a header,
// failures counted, never thrown), and the command id of a command action,
// stable per transition and action. (Commands and events on NATS: closed-loop.test.ts.)
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionRunner, actionCommandId, emptyAnalyticsStats } from "../../../cloud/analytics";
import { silentLogger } from "../../../cloud/base";
import type { AlertTransition } from "../../../shared/stream";
import type { NatsConnection } from "@nats-io/transport-node";

describe("analytics actions", () => {
  const seen: Array<{ path: string; key: string | undefined; body: string }> = [];
  let failFirst = 1;
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ path: req.url ?? "", key: req.headers["idempotency-key"] as string | undefined, body });
      if (req.url === "/bad") { res.writeHead(400).end(); return; }
      if (failFirst-- > 0) { res.writeHead(503).end(); return; }
      res.writeHead(200).end("ok");
    });
  });
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const transition = (actions: AlertTransition["actions"]): AlertTransition => ({
    ruleId: "r1", key: "dev-1", episode: 3, state: "raised", t: 1, value: 50, reason: "above", actions, id: "r1:dev-1:3:raised",
  });

  it("retries a webhook after a 5xx with the same idempotency key, does not retry a 4xx, and counts the failure", async () => {
    const stats = emptyAnalyticsStats("n");
    const runner = new ActionRunner({
      nc: null as unknown as NatsConnection, commands: null, stats, log: silentLogger,
      settings: { webhookTimeoutMs: 2_000, webhookAttemptsMax: 3, webhookBackoffMs: 10, commandTimeoutMs: 10_000 },
    });
    await runner.run(transition([{ kind: "webhook", url: `${base}/hook`, on: "raise" }, { kind: "webhook", url: `${base}/bad`, on: "raise" }]));
    const hook = seen.filter((s) => s.path === "/hook");
    expect(hook).toHaveLength(2);
    expect(new Set(hook.map((h) => h.key))).toEqual(new Set(["r1:dev-1:3:raised.0"]));
    expect(JSON.parse(hook[0]!.body)).toMatchObject({ ruleId: "r1", key: "dev-1", episode: 3, state: "raised", idempotencyKey: "r1:dev-1:3:raised.0" });
    expect(seen.filter((s) => s.path === "/bad")).toHaveLength(1);
    expect(stats).toMatchObject({ actionsRun: 1, actionsFailed: 1, webhookAttempts: 3 });
    // A command action without a submitter fails and is counted, never thrown.
    await runner.run(transition([{ kind: "command", device: "act-1", command: "set", on: "raise" }]));
    expect(stats.actionsFailed).toBe(2);
  });

  it("derives one command id per transition and action, within the commands' id pattern", () => {
    const a = actionCommandId("r1:dev-1:3:raised", 0);
    expect(a).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(actionCommandId("r1:dev-1:3:raised", 0)).toBe(a);
    expect(actionCommandId("r1:dev-1:3:raised", 1)).not.toBe(a);
    expect(actionCommandId("r1:dev-1:4:raised", 0)).not.toBe(a);
  });
});
