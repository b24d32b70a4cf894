import { connect, type NatsConnection } from "@nats-io/transport-node";
import { KvDeviceRegistry, openRegistryBucket } from "../../../cloud/registry/kv-registry";
import { startNats } from "../../harness/nats";
import { runRegistryConformance } from "./conformance";

runRegistryConformance("NATS KV with revision compare-and-set (real nats-server)", async () => {
  const nats = await startNats({ size: 1 });
  const conns: NatsConnection[] = [];
  for (let i = 0; i < 4; i++) conns.push(await connect({ servers: nats.servers }));
  let conflicts = 0;
  const writers = await Promise.all(conns.map(async (nc) => new KvDeviceRegistry(await openRegistryBucket(nc, 1), { onConflict: () => conflicts++ })));
  return {
    writers,
    conflicts: () => conflicts,
    stop: async () => {
      for (const c of conns) await c.close();
      await nats.stop();
    },
  };
});
