import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsCluster } from "../../harness/nats";
import type { NatsConnection } from "@nats-io/transport-node";
import { NatsPool, PoolExhausted, connectionOptions } from "../../../cloud/nats";
import { until } from "../../harness/wait";

describe("NATS connection pool against a real server", () => {
  let nats: NatsCluster;
  beforeAll(async () => { nats = await startNats(); });
  afterAll(async () => { await nats?.stop(); });

  it("opens N connections, spreads sequential operations over them, and drains them", async () => {
    const pool = await NatsPool.open({ servers: nats.servers, name: "pool-test" }, 3);
    const seen = new Set<NatsConnection>();
    for (let i = 0; i < 4; i++) await pool.use(async (nc) => { seen.add(nc); });
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

describe("NATS pool: back-pressure and health", () => {
  let nats: NatsCluster;
  beforeAll(async () => { nats = await startNats(); });
  afterAll(async () => { await nats?.stop(); });

  it("admits at most inflightMax operations, queues up to waitersMax, refuses the rest (counted)", async () => {
    const pool = await NatsPool.open({ servers: nats.servers, name: "pool-bp" }, 2, { inflightMax: 2, waitersMax: 1, healthCheckMs: 0 });
    try {
      const gates: Array<() => void> = [];
      const held = (): Promise<number> => pool.use(() => new Promise<number>((r) => gates.push(() => r(1))));
      const a = held();
      const b = held();
      await until("two operations running", () => pool.stats.inflight === 2);
      const c = held();
      await until("the third waits", () => pool.stats.waiting === 1);
      await expect(pool.use(async () => 0)).rejects.toBeInstanceOf(PoolExhausted);
      expect(pool.stats).toMatchObject({ inflight: 2, waiting: 1, waits: 1, rejected: 1 });
      gates.shift()!();
      await until("the waiter got the freed slot", () => pool.stats.waiting === 0 && gates.length === 2);
      expect(pool.stats.inflight).toBe(2);
      for (const g of gates.splice(0)) g();
      expect(await Promise.all([a, b, c])).toEqual([1, 1, 1]);
      expect(pool.stats).toMatchObject({ inflight: 0, acquired: 3 });
    } finally {
      await pool.drain();
    }
  });

  it("spreads operations over the least-loaded connections and skips a closed one", async () => {
    const pool = await NatsPool.open({ servers: nats.servers, name: "pool-health" }, 3, { healthCheckMs: 0 });
    try {
      const used = new Set<NatsConnection>();
      const gates: Array<() => void> = [];
      const ops = [0, 1, 2].map(() => pool.use((nc) => { used.add(nc); return new Promise<void>((r) => gates.push(r)); }));
      await until("three running", () => gates.length === 3);
      expect(used.size).toBe(3);
      for (const g of gates) g();
      await Promise.all(ops);
      await pool.all()[1]!.close();
      await pool.probe();
      expect(pool.stats.healthy).toBe(2);
      for (let i = 0; i < 6; i++) expect(await pool.use(async (nc) => nc === pool.all()[1] || nc.isClosed())).toBe(false);
    } finally {
      await pool.drain();
    }
  });
});
