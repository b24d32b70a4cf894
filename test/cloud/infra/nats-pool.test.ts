import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsCluster } from "../../harness/nats";
import { NatsPool, connectionOptions } from "../../../cloud/nats";

describe("NATS connection pool against a real server", () => {
  let nats: NatsCluster;
  beforeAll(async () => { nats = await startNats(); });
  afterAll(async () => { await nats?.stop(); });

  it("opens N connections, hands them out round-robin, and drains them", async () => {
    const pool = await NatsPool.open({ servers: nats.servers, name: "pool-test" }, 3);
    const seen = new Set([pool.get(), pool.get(), pool.get(), pool.get()]);
    expect(seen.size).toBe(3);
    const sub = pool.all()[0]!.subscribe("pool.x", { max: 1 });
    await pool.all()[0]!.flush();
    pool.all()[2]!.publish("pool.x", "hi");
    for await (const m of sub) expect(m.string()).toBe("hi");
    await pool.drain();
    expect(pool.all().every((c) => c.isClosed())).toBe(true);
  });

  it("rejects bad settings with a message that says what to fix", async () => {
    expect(() => connectionOptions({ servers: [], name: "x" })).toThrow(/set nats.servers/);
    await expect(NatsPool.open({ servers: nats.servers, name: "x" }, 0)).rejects.toThrow(/1..64/);
    expect(connectionOptions({ servers: ["nats://a:1"], name: "x" }).maxReconnectAttempts).toBe(-1);
  });
});
