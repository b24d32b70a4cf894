// The shadow delta pusher under a Hello storm, on a real nats-server: what a
// broker restart does to a fleet (every device says Hello within seconds).
// Every device with a pending delta gets it — none dropped, however many
// signals arrive beyond the pushes in progress — a device's repeated signals
// fold into one push, and a device is never pushed twice at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { encodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, parseDeviceAddress } from "../../../shared/topics";
import { deviceSubject } from "../../../cloud/subjects";
import { ShadowDeltaPusher, ShadowDoc, ShadowStore } from "../../../cloud/shadow";
import { startNats, type NatsCluster } from "../../harness/nats";
import { helloEnvelope } from "../../harness/envelopes";
import { until } from "../../harness/wait";

/** Well beyond the pusher's 64 pushes in progress: the old pusher dropped all but those. */
const devices = Array.from({ length: 600 }, (_, i) => `storm-${String(i).padStart(3, "0")}`);

describe("shadow delta pusher: a Hello storm", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let shadow: ShadowStore;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.servers });
    shadow = await ShadowStore.open(nc);
    // Desired state written before the pusher runs: each device has a delta waiting.
    for (let i = 0; i < devices.length; i += 50) {
      await Promise.all(devices.slice(i, i + 50).map((id) => shadow.put(id, ShadowDoc.Desired, "api-test", "mode", "eco", {})));
    }
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("delivers every device's delta, coalesces repeats, never pushes a device twice at once", async () => {
    // The real store behind a wrapper that watches how many pushes read each device at once.
    const reading = new Map<string, number>();
    let overlap = 0;
    const watched = Object.create(shadow) as ShadowStore;
    watched.fields = async (id, doc) => {
      if (doc === ShadowDoc.Desired) {
        const n = (reading.get(id) ?? 0) + 1;
        reading.set(id, n);
        if (n > 1) overlap++;
      }
      try {
        return await shadow.fields(id, doc);
      } finally {
        if (doc === ShadowDoc.Desired) reading.set(id, reading.get(id)! - 1);
      }
    };
    const received = new Set<string>();
    const cfg = nc.subscribe(deviceSubject("*", Downlink.Config), {
      callback: (_err, m) => { const a = parseDeviceAddress(m.subject); if (a) received.add(a.deviceId); },
    });
    await nc.flush();
    const pusher = new ShadowDeltaPusher(nc, watched);
    pusher.start();
    await nc.flush();
    try {
      // Two Hellos per device, all at once.
      for (const round of [1, 2]) {
        for (const id of devices) nc.publish(deviceSubject(id, Uplink.Hello), encodeEnvelope(helloEnvelope(id, round)));
      }
      await nc.flush();
      const signals = 2 * devices.length;
      const st = pusher.stats;
      await until("every Hello handled", () => st.pushed + st.empty + st.errors + st.coalesced + st.dropped === signals && pusher.backlog === 0, { timeoutMs: 60_000 });
      await until("every device's delta received", () => received.size === devices.length, { timeoutMs: 30_000 });
      expect(st.dropped).toBe(0);
      expect(st.errors).toBe(0);
      expect(st.empty).toBe(0); // every device had a delta waiting
      expect(st.pushed).toBeGreaterThanOrEqual(devices.length);
      expect(overlap).toBe(0);
    } finally {
      await pusher.stop();
      cfg.unsubscribe();
    }
  }, 120_000);
});
