// The fenced KV resource against a real nats-server: the control plane's
// fence check and the resource's own token check (CAS on the key revision)
// each refuse a stale writer; the control adapter refuses bad requests.

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { StorageType } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlLeaseService, controlSubject, natsProposer, serveControlPlane, type ControlServer } from "../../../cloud/recovery/control-adapter";
import { FencedKv } from "../../../cloud/recovery/fenced-kv";
import type { FenceService } from "../../../cloud/recovery/types";
import { startNats, type NatsCluster } from "../../harness/nats";

let nats: NatsCluster;
let nc: NatsConnection;
let control: ControlServer;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
  control = serveControlPlane(nc);
});

afterAll(async () => {
  control.stop();
  await nc.drain();
  await nats.stop();
});

describe("fenced KV resource", () => {
  it("accepts the live holder and refuses a previous holder through the control plane", async () => {
    const leases = new ControlLeaseService(natsProposer(nc));
    const kv = await new Kvm(nc).create("xsf_fenced_unit", { history: 8, storage: StorageType.File, replicas: 1 });
    const res = new FencedKv<string>(kv, leases, "lock/x");
    const a = await leases.acquire("lock/x", "a", 200);
    if (!a.ok) throw new Error("a must get the lease");
    expect(await res.write("k", a.token, "a", "from a")).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 250));
    const b = await leases.acquire("lock/x", "b", 10_000);
    if (!b.ok) throw new Error("b must get the lease after a's expired");
    expect(b.token).toBeGreaterThan(a.token);
    expect(await res.write("k", a.token, "a", "late a")).toEqual({ ok: false, error: "stale-token", by: "control-plane" });
    expect(await res.write("k", b.token, "b", "from b")).toMatchObject({ ok: true });
    expect((await res.read("k"))?.value).toEqual({ token: b.token, writer: "b", value: "from b" });
  });

  it("refuses a stale token at the resource even when the fence check passed (check-then-pause race)", async () => {
    const yes: FenceService = { checkFence: async () => true };
    const kv = await new Kvm(nc).create("xsf_fenced_race", { history: 8, storage: StorageType.File, replicas: 1 });
    const res = new FencedKv<number>(kv, yes, "lock/y");
    expect(await res.write("k", 5, "new", 1)).toMatchObject({ ok: true });
    expect(await res.write("k", 4, "zombie", 2)).toEqual({ ok: false, error: "stale-token", by: "resource", highestToken: 5 });
    // Concurrent writers with the same live token: every write lands, CAS retries absorb conflicts.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => res.write("k", 6, "w", i)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(res.rejected).toBe(1);
  });

  it("the control adapter answers bad requests with invalid-command", async () => {
    const r = await nc.request(controlSubject.propose, new TextEncoder().encode("{nope"), { timeout: 2000 });
    expect(JSON.parse(new TextDecoder().decode(r.data))).toMatchObject({ ok: false, code: "invalid-command" });
    const r2 = await natsProposer(nc)({ kind: "lock.try-acquire", name: "", holder: "a", ttlMs: 10 } as never);
    expect(r2).toMatchObject({ ok: false, code: "invalid-command" });
  });
});
