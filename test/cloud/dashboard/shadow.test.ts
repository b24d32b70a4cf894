// A device's shadow in the dashboard: /api/shadow from a NatsDashboardSource
// on a real nats-server (desired with siblings, reported, delta state), and
// the page rendering it in a real headless Chromium when one is installed.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNatsDashboardSource, type NatsDashboardSource } from "../../../cloud/dashboard/nats-source";
import { startDashboard } from "../../../cloud/dashboard/server";
import type { DashboardHandle } from "../../../cloud/dashboard/types";
import { ShadowDoc, ShadowStore, type ShadowView } from "../../../cloud/shadow";
import { DeviceStateStore, emptyDeviceState } from "../../../cloud/state";
import { startNats, type NatsCluster } from "../../harness/nats";

const chromiumPath = "/usr/bin/chromium";
const haveBrowser = existsSync(chromiumPath);

let nats: NatsCluster;
let nc: NatsConnection;
let source: NatsDashboardSource;
let dash: DashboardHandle;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.servers });
  source = createNatsDashboardSource({ nc, monitorUrls: [`http://127.0.0.1:${nats.nodes[0]!.monitorPort}`], retryMs: 100 });
  dash = await startDashboard({ port: 0, source, limits: { snapshotTtlMs: 1 } });
}, 60_000);

afterAll(async () => {
  await dash?.stop();
  await source?.close();
  await nc?.close();
  await nats?.stop();
});

async function getShadow(device: string): Promise<{ status: number; body: { shadow?: ShadowView | null; error?: string } }> {
  const res = await fetch(`${dash.url}api/shadow?device=${encodeURIComponent(device)}`);
  return { status: res.status, body: (await res.json()) as { shadow?: ShadowView | null; error?: string } };
}

describe("device shadow in the dashboard", () => {
  it("serves desired, reported, siblings and delta state; null before any shadow; 400 on a bad id", async () => {
    expect(await getShadow("thermo-9")).toEqual({ status: 200, body: { deviceId: "thermo-9", shadow: null } }); // no bucket yet
    const store = await ShadowStore.open(nc);
    await store.put("thermo-9", ShadowDoc.Desired, "api-a", "setpoint", 21.5, {});
    await store.put("thermo-9", ShadowDoc.Desired, "api-b", "setpoint", 19, {});
    await store.put("thermo-9", ShadowDoc.Desired, "api-a", "fan", "auto", {});
    const { status, body } = await getShadow("thermo-9");
    expect(status).toBe(200);
    expect(body.shadow!.desired.fields.setpoint!.siblings.map((s) => s.value).sort()).toEqual([19, 21.5]);
    expect(body.shadow!.delta).toEqual({ fields: { fan: { value: "auto", context: { "api-a": 1 } } }, deleted: {}, conflicts: ["setpoint"] });
    expect((await getShadow("bad id")).status).toBe(400);
    expect((await getShadow("nobody")).body.shadow).toBeNull();
  }, 60_000);

  it.skipIf(!haveBrowser)("shows the shadow of the selected device, siblings marked", async () => {
    const states = await DeviceStateStore.ensure(nc);
    const st = emptyDeviceState("thermo-9");
    st.lastSeenMs = Date.now();
    expect(await states.compareAndSet("thermo-9", st, 0)).toBeGreaterThan(0);
    const profileDir = mkdtempSync(path.join(tmpdir(), "xsfleet-chromium-"));
    const browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath, headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
      await page.goto(dash.url);
      await page.waitForSelector(".shadow tr[data-field='setpoint']", { timeout: 30_000 });
      expect(await page.getAttribute(".shadow tr[data-field='setpoint'] td.siblings", "data-siblings")).toBe("2");
      expect(await page.getAttribute(".shadow tr[data-field='setpoint']", "data-state")).toBe("conflict");
      expect(await page.getAttribute(".shadow tr[data-field='fan']", "data-state")).toBe("to device");
      expect(await page.textContent(".shadow tr[data-field='setpoint']")).toContain("21.5 · api-a:1");
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      rmSync(profileDir, { recursive: true, force: true });
    }
  }, 90_000);
});
