// The device state compare-and-set on a real nats-server, both ways a store
// can send it — a publish to the key's subject with
// Nats-Expected-Last-Subject-Sequence — through nats.js's JetStream client
// (stores opened without a publisher) and through a JsPublisher (ingest's
// hot path). Both must give the same answers —
// the new revision, or null when someone wrote first — including on a key
// that was deleted (load reports its revision negative).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { DeviceStateStore, emptyDeviceState } from "../../../cloud/state";
import { JsPublisher } from "../../../cloud/nats";

describe("device state compare-and-set", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let viaKv: DeviceStateStore;
  let viaPublisher: DeviceStateStore;
  let publisher: JsPublisher;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.servers });
    viaKv = await DeviceStateStore.ensure(nc);
    publisher = new JsPublisher(nc, 10_000);
    viaPublisher = await DeviceStateStore.open(nc, publisher);
  });

  afterAll(async () => {
    publisher?.close();
    await nc?.close();
    await nats?.stop();
  });

  for (const [name, store] of [["nats.js JetStream", () => viaKv], ["JsPublisher", () => viaPublisher]] as const) {
    it(`${name}: creates, updates, refuses stale revisions, writes over a deletion`, async () => {
      const s = store();
      const id = `cas-${name === "JsPublisher" ? "pub" : "kv"}`;
      const state = emptyDeviceState(id);

      const r1 = await s.compareAndSet(id, state, 0);
      expect(r1).toBeGreaterThan(0);
      expect(await s.compareAndSet(id, state, 0)).toBeNull(); // exists already
      expect((await s.load(id)).revision).toBe(r1);

      const r2 = await s.compareAndSet(id, { ...state, telemetry: { ...state.telemetry, batches: 7 } }, r1!);
      expect(r2).toBeGreaterThan(r1!);
      expect(await s.compareAndSet(id, state, r1!)).toBeNull(); // stale
      // The other store reads what this one wrote: one bucket, one format.
      const other = name === "JsPublisher" ? viaKv : viaPublisher;
      const loaded = await other.load(id);
      expect(loaded.revision).toBe(r2);
      expect(loaded.state.telemetry.batches).toBe(7);

      await viaKv.kv.delete(id);
      const deleted = await s.load(id);
      expect(deleted.revision).toBeLessThan(0);
      expect(await s.compareAndSet(id, state, r2!)).toBeNull(); // the delete came after r2
      const r3 = await s.compareAndSet(id, state, deleted.revision);
      expect(r3).toBeGreaterThan(-deleted.revision);
      expect((await other.load(id)).revision).toBe(r3);
    });
  }
});
