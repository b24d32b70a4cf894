import { connect, type NatsConnection } from "@nats-io/transport-node";
import { KvDeviceRegistry, openRegistryBucket } from "../../../cloud/registry/kv-registry";
import { startNats } from "../../harness/nats";
import { runRegistryConformance } from "./conformance";

runRegistryConformance("NATS KV with revision compare-and-set (real nats-server)", async () => {
  const nats = await startNats({ size: 1 });
  const conns: NatsConnection[] = [];
  for (let i = 0; i < 4; i++) conns.push(await connect({ servers: nats.servers }));
  let conflicts = 0;
  // One after the other: four concurrent first creations of the bucket race in nats-server 2.9
  // ("subjects overlap with an existing stream"); the writers contend on records, not on creating the bucket.
  const writers: KvDeviceRegistry[] = [];
  for (const nc of conns) writers.push(new KvDeviceRegistry(await openRegistryBucket(nc, 1), { onConflict: () => conflicts++ }));
  return {
    writers,
    conflicts: () => conflicts,
    stop: async () => {
      for (const c of conns) await c.close();
      await nats.stop();
    },
  };
});
