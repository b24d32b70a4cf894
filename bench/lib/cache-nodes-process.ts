// A child process for bench:cache: three cache nodes (cloud/cache CacheNode,
// each its own NATS pool, invalidated by a watch of the bench's KV bucket),
// as cloud nodes would run them beside the reader. Prints "ready" when
// serving; exits on SIGTERM.
//   tsx bench/lib/cache-nodes-process.ts <servers,> <bucket> <poolSize>
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CacheNode, CacheStore, KvInvalidationWatch } from "../../cloud/cache";
import { createLogger } from "../../cloud/base";
import { NatsPool } from "../../cloud/nats";

async function main(): Promise<void> {
  const [servers, bucket, poolArg] = process.argv.slice(2);
  if (!servers || !bucket || !poolArg) throw new Error("usage: cache-nodes-process <servers> <bucket> <poolSize>");
  const log = createLogger({ level: "error" });
  const pools: NatsPool[] = [];
  const conns: NatsConnection[] = [];
  const watches: KvInvalidationWatch[] = [];
  const nodes: CacheNode[] = [];
  for (const id of ["cache-1", "cache-2", "cache-3"]) {
    const pool = await NatsPool.open({ servers: servers.split(","), name: `${id}-bench` }, Number(poolArg), { healthCheckMs: 0 });
    const nc = await connect({ servers: servers.split(","), name: `${id}-watch` });
    const store = new CacheStore();
    const node = new CacheNode({ conns: pool.all(), nodeId: id, store, view: null }).start();
    await node.ready();
    watches.push(new KvInvalidationWatch({
      nc, bucket, namespace: "state", log, invalidate: (k, r) => store.invalidate(k, r, Date.now()), purgeNamespace: () => store.clear(),
    }).start());
    pools.push(pool); conns.push(nc); nodes.push(node);
  }
  while (!watches.every((w) => w.live)) await new Promise((r) => setTimeout(r, 50));
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => {
    void (async () => {
      for (const w of watches) w.stop();
      for (const n of nodes) n.stop();
      await Promise.all(pools.map((p) => p.drain()));
      await Promise.all(conns.map((c) => c.close()));
      process.exit(0);
    })();
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
