// Listing the device state bucket on a real nats-server while ingest-like
// writers keep updating it: every id exactly once, and no consumer left on
// the bucket afterwards (the status line and the ingest presence sweep list
// or mirror it all the time; leftover consumers used to pile up to ~380).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNats, type NatsCluster } from "../../harness/nats";
import { DeviceStateMirror, DeviceStateStore, deviceStateBucket, emptyDeviceState } from "../../../cloud/state";

const kvStream = `KV_${deviceStateBucket}`;
const devices = Array.from({ length: 40 }, (_, i) => `dev-${String(i).padStart(2, "0")}`);

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("device state listing", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let store: DeviceStateStore;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.servers });
    store = await DeviceStateStore.ensure(nc);
    for (const id of devices) expect(await store.compareAndSet(id, emptyDeviceState(id), 0)).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  const consumerCount = async (): Promise<number> => (await (await jetstreamManager(nc)).streams.info(kvStream)).state.consumer_count;

  it("lists every device once while devices are being written, and leaves no consumer behind", async () => {
    const before = await consumerCount();
    let writing = true;
    let writes = 0;
    // Writers update every device over and over, as ingest does under load.
    const writer = (async () => {
      while (writing) {
        const id = devices[writes % devices.length]!;
        const cur = await store.load(id);
        cur.state.lastSeenMs = Date.now();
        await store.compareAndSet(id, cur.state, cur.revision);
        writes++;
      }
    })();
    try {
      for (let round = 0; round < 25; round++) {
        const ids = await store.listDeviceIds();
        expect(new Set(ids).size, `round ${round}: no id twice`).toBe(ids.length);
        expect([...ids].sort()).toEqual(devices);
        const states = await store.listDeviceStates();
        expect(states.map((s) => s.deviceId)).toEqual(devices);
      }
    } finally {
      writing = false;
      await writer;
    }
    expect(writes).toBeGreaterThan(25);
    expect(await consumerCount()).toBe(before);
  });

  it("does not list a deleted device", async () => {
    const kv = store.kv;
    await kv.delete("dev-39");
    const ids = await store.listDeviceIds();
    expect(ids).not.toContain("dev-39");
    expect(ids).toHaveLength(devices.length - 1);
    const cur = await store.load("dev-39");
    expect(await store.compareAndSet("dev-39", emptyDeviceState("dev-39"), cur.revision)).toBeGreaterThan(0);
  });

  it("a mirror follows the bucket with one consumer for its whole life", async () => {
    const before = await consumerCount();
    const mirror = new DeviceStateMirror(nc).start();
    try {
      expect(await mirror.ready(20_000)).toBe(true);
      expect(mirror.size).toBe(devices.length);
      expect(await consumerCount()).toBe(before + 1);
      const cur = await store.load("dev-07");
      cur.state.presence = { state: "online", sinceMs: Date.now(), source: "hello", reason: "" };
      await store.compareAndSet("dev-07", cur.state, cur.revision);
      await until("update mirrored", () => [...mirror.devices()].some((d) => d.deviceId === "dev-07" && d.presence.state === "online"));
      expect(mirror.size).toBe(devices.length);
      expect(await consumerCount()).toBe(before + 1);
    } finally {
      mirror.stop();
    }
  });
});
