// Shadows under the secured stack (operator/JWT mode, least privilege): the
// api principal creates the bucket and writes; the dashboard principal
// reads; neither the dashboard nor an integrator can write shadow keys
// behind the API's back.
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "../../../cloud/nats";
import { ShadowDoc, ShadowStore, shadowBucket } from "../../../cloud/shadow";
import { startNats, type NatsCluster } from "../../harness/nats";

let nats: NatsCluster;
const conns: NatsConnection[] = [];

beforeAll(async () => {
  nats = await startNats({ secure: true });
}, 60_000);

afterAll(async () => {
  for (const c of conns) await c.close().catch(() => {});
  await nats?.stop();
});

async function as(p: "api" | "dashboard" | "integrator"): Promise<NatsConnection> {
  const nc = await connectNats({ servers: nats.servers, name: `as-${p}`, credsFile: nats.creds(p) });
  conns.push(nc);
  return nc;
}

describe("shadows with least-privilege principals", () => {
  it("api writes, dashboard reads, nobody else writes", async () => {
    const api = await ShadowStore.open(await as("api"));
    await api.put("sec-1", ShadowDoc.Desired, "api-n1", "led", "on", {});
    const dashNc = await as("dashboard");
    const dash = new ShadowStore(dashNc, await new Kvm(dashNc).open(shadowBucket), { events: false });
    expect((await dash.get("sec-1")).desired.fields.led!.values).toEqual(["on"]);
    await expect(dash.put("sec-1", ShadowDoc.Desired, "api-n1", "led", "off", {})).rejects.toThrow(/permission|timeout/i);
    const integrator = await as("integrator");
    const kv = await new Kvm(integrator).open(shadowBucket);
    await expect(kv.put("sec-1.desired.api-evil", "{}")).rejects.toThrow(/permission|timeout/i);
    expect((await api.get("sec-1")).desired.writers).toEqual(["api-n1"]);
  }, 60_000);
});
