// The dashboard as an operator sees it: `xsfleet up` (its own nats-server,
// Raft control plane, one cloud node, a few simulated devices, the
// dashboard), and a real headless Chromium (Debian's `chromium`, driven by
// playwright-core) on the page. Asserts what is on the screen: a row per
// device, a plot whose newest point is under a minute old and whose min/max
// hold the current reading, the cloud node with its roles and NATS client
// address, and no console errors; a device message's trace across
// processes as a waterfall. Also: the stack leaves the consumer count
// on the device-state bucket flat (no periodic key listing). The stack runs
// the default topology (mixed): 3 direct devices, a gateway with 4
// children and a mesh of 8 peers (2 reporting): the topology section lists
// the gateway's children.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { connectNats } from "../../cloud/nats";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort } from "../../cloud/infra";
import { descendants, startUp, waitGone, type UpProcess } from "./up-process";

const chromiumPath = "/usr/bin/chromium";
/** PLOT_POINTS_MAX in cloud/dashboard/page.html. */
const plotPointsMax = 1000;
// Flags for a quiet, reproducible headless run on a CI machine. Not
// --screenshot/--virtual-time-budget: virtual time never settles while the
// page holds its live event stream open.
const chromiumArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// Without Debian's chromium (apt-get install chromium) this file is skipped
// and says so; CI (.ci/run) installs it and sets XSFLEET_REQUIRE_BROWSER=1,
// so there a missing browser is a failure, never a silent skip.
const haveBrowser = existsSync(chromiumPath);
if (!haveBrowser) {
  if (process.env.XSFLEET_REQUIRE_BROWSER) throw new Error(`${chromiumPath} is missing: apt-get install chromium`);
  console.warn(`[dashboard browser test] skipped: ${chromiumPath} not found (apt-get install chromium)`);
}

describe.skipIf(!haveBrowser)("dashboard in a real browser against `xsfleet up`", () => {
  let up: UpProcess;
  let dashUrl: string;
  let natsUrl: string;
  let browser: BrowserContext;
  let profileDir: string;

  beforeAll(async () => {
    // Traces replayed fast, so the history holds more points than the plot shows by the time the page opens.
    up = await startUp(["--devices", "3", "--actuators", "1", "--cloud-nodes", "1", "--heartbeat-ms", "1000", "--speedup", "400",
      "--dashboard-port", String(await freePort())]);
    // 3 direct + edge-gw-0 and edge-gw-1 with 4 children each + the 2 mesh reporters.
    await up.waitFor(/devices 15\/15 online.*cloud 1\/1 up \| raft 3\/3 \| members 1 up/, "stack up", 150_000);
    dashUrl = (await up.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/, "dashboard URL"))[1]!;
    await historyHolds(plotPointsMax + 200);
    natsUrl = (await up.waitFor(/broker: NATS (nats:\/\/127\.0\.0\.1:\d+)/, "NATS URL"))[1]!;
    profileDir = mkdtempSync(path.join(tmpdir(), "xsfleet-chromium-"));
    // A fresh profile per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath, headless: true, args: chromiumArgs, viewport: { width: 1600, height: 1200 },
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    if (!up) return;
    const pids = descendants(up.pgid).map((p) => p.pid);
    try {
      process.kill(-up.pgid, "SIGINT");
      await up.exited(15_000);
      expect(await waitGone(pids, 1_000)).toEqual([]);
    } finally {
      await up.cleanup(pids);
    }
  }, 60_000);

  /** Waits until sim-0's stored temperature of the last 15 minutes has at least n points. */
  async function historyHolds(n: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const now = Date.now();
      const q = new URLSearchParams({ device: "sim-0", channel: "temperature", fromMs: String(now - 15 * 60_000), toMs: String(now), limit: "2000" });
      const res = await fetch(`${dashUrl}api/history?${q}`);
      if (res.ok && ((await res.json()) as { points: unknown[] }).points.length >= n) return;
      if (Date.now() > deadline) throw new Error(`history of sim-0 did not reach ${n} points`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => { if (!r.url().endsWith("/api/events")) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`); });
    await page.goto(dashUrl);
    return { page, errors };
  }

  it("shows every device, a current plot with honest min/max, the cloud node's roles and NATS address, and no errors", async () => {
    const { page, errors } = await openPage();
    try {
      // A row per device.
      await page.waitForFunction("document.querySelectorAll('#dev-body tr').length === 15", undefined, { timeout: 30_000 });
      const ids = await page.$$eval("#dev-body tr td:first-child", (tds) => tds.map((td) => td.textContent));
      expect(ids).toEqual([
        "edge-gw-0", "edge-gw-0-c0", "edge-gw-0-c1", "edge-gw-0-c2", "edge-gw-0-c3",
        "edge-gw-1", "edge-gw-1-c0", "edge-gw-1-c1", "edge-gw-1-c2", "edge-gw-1-c3",
        "mesh-0", "mesh-1", "sim-0", "sim-1", "sim-2",
      ]);
      expect(await page.textContent("#t-online")).toBe("15");
      // A child's row says which gateway it uses.
      expect(await page.textContent("#dev-body tr:has-text('edge-gw-0-c2') td:nth-child(3)")).toBe("via edge-gw-0");

      // The plot of the selected device (sim-0, a sensor; the first row is the gateway): the newest window of stored points.
      await page.click("#dev-body tr:has-text('sim-0')");
      // Right after the click the plot may show the live readings alone; then the stored history replaces them.
      const plot = await page.waitForSelector(`#detail svg[data-newest-ms][data-points='${plotPointsMax}']`, { timeout: 30_000 });
      const attr = async (name: string): Promise<number> => Number(await plot.getAttribute(name));
      const newestMs = await attr("data-newest-ms");
      expect(Date.now() - newestMs, "newest plotted point is under a minute old").toBeLessThan(60_000);
      // More is stored than fits: the plot is full, and ends where the device's latest reading is (not minutes earlier).
      expect(await attr("data-points")).toBe(plotPointsMax);
      const readingMs = Number(await page.getAttribute("#detail .spark", "data-reading-ms"));
      expect(newestMs).toBeGreaterThan(readingMs - 5_000);
      const [lo, hi] = [await attr("data-min"), await attr("data-max")];
      expect(lo).toBeLessThanOrEqual(hi);
      // The reading shown above the plot (rounded to what the page prints) lies within the plotted min/max.
      const shown = Number.parseFloat((await page.textContent("#detail .spark .top b")) ?? "NaN");
      expect(shown).toBeGreaterThanOrEqual(lo - 0.06);
      expect(shown).toBeLessThanOrEqual(hi + 0.06);
      expect(await page.textContent("#detail .spark .foot")).toMatch(/^min [\d.]+ · max [\d.]+ · \d+ points over .+ · newest \d+s ago$/);

      // The cloud node with its roles (from its heartbeats) and its NATS client address (from connz).
      const node = await page.waitForSelector("#nodes .node:has-text('cloud-1'):has(.badge.role)", { timeout: 30_000 });
      const roles = await node.$$eval(".badge.role", (bs) => bs.map((b) => b.textContent));
      expect(roles).toEqual(["ingest", "api", "commands", "orchestration", "cache", "analytics", "provisioning"]);
      expect(await node.textContent()).toMatch(/NATS 127\.0\.0\.1:\d+ → xsfleet-n0/);
      expect(await node.$eval(".badge.up", (b) => b.textContent)).toBe("up");
      const replicas = await page.$$eval("#cp .node .name .mono", (ns) => ns.map((n) => n.textContent));
      expect(replicas).toEqual(["control-1", "control-2", "control-3", "paxos-1", "paxos-2", "paxos-3"]);

      await page.screenshot({ path: path.join(up.stateDir, "dashboard.png"), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);

  it("shows the Alerts panel: the analytics role's alerts, or that none fired (never an error)", async () => {
    const { page, errors } = await openPage();
    try {
      // Filled or empty: either way the dashboard's NATS user may call alerts.list and a node serves it (rules may take minutes to fire).
      await page.waitForSelector("#al-body tr, #al-empty:text-matches('^No alerts')", { timeout: 30_000 });
      expect({ summary: await page.textContent("#al-summary"), error: await page.textContent("#al-error") }).toEqual({ summary: expect.stringMatching(/^\d+ alert\(s\), \d+ raised$/), error: "" });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it("shows the topology: the gateway with its children listed under it, and the mesh counter merged across its reporters", async () => {
    const { page, errors } = await openPage();
    try {
      const gw = await page.waitForSelector("#topo-card .topo-gateway[data-gateway='edge-gw-0']", { timeout: 30_000 });
      await page.waitForFunction("document.querySelectorAll(\"#topo-card .topo-gateway[data-gateway='edge-gw-0'] .topo-child.online\").length === 4", undefined, { timeout: 30_000 });
      const kids = await gw.$$eval(".topo-child", (ks) => ks.map((k) => k.textContent));
      expect(kids).toEqual(["edge-gw-0-c0", "edge-gw-0-c1", "edge-gw-0-c2", "edge-gw-0-c3"]);
      expect(await gw.textContent()).toContain("4/4 children online");
      // The mesh's counter, merged across both reporters (never their sum).
      const mesh = await page.waitForSelector("#topo-card .topo-mesh[data-counter='events']", { timeout: 30_000 });
      expect(await mesh.textContent()).toMatch(/reported by mesh-0, mesh-1/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);

  it("shows a device message's trace across processes as a waterfall (click the device, then its message)", async () => {
    const { page, errors } = await openPage();
    try {
      await page.waitForFunction("document.querySelectorAll('#dev-body tr').length === 15", undefined, { timeout: 30_000 });
      await page.click("#dev-body tr:has-text('sim-1')");
      // The Traces panel follows the selected device: its messages, each a trace exported by the cloud node to the dashboard.
      await page.waitForSelector("#tr-summary:has-text('of sim-1')", { timeout: 30_000 });
      await page.waitForSelector("#tr-body tr:has-text('sim-1')", { timeout: 60_000 });
      const rows = await page.$$eval("#tr-body tr td:nth-child(2)", (tds) => tds.map((td) => td.textContent ?? ""));
      for (const r of rows) expect(r).toMatch(/^sim-1 · \d+$/);
      await page.click("#tr-body tr:has-text('ingest.device_batch')");
      await page.waitForSelector("#waterfall .sp", { timeout: 30_000 });
      const labels = await page.$$eval("#waterfall .sp .lbl", (ls) => ls.map((l) => l.textContent ?? ""));
      // The device (a stand-in: devices export no spans), then ingest's spans from the cloud node process.
      expect(labels[0]).toMatch(/^device sim-1/);
      for (const step of ["ingest.device_batch", "ingest.consume", "ingest.decode", "ingest.apply", "ingest.outputs", "ingest.state_write"]) {
        expect(labels.some((l) => l.startsWith(step + " xsfleet-cloud/cloud-1")), `${step} in ${labels.join(" | ")}`).toBe(true);
      }
      await page.screenshot({ path: path.join(up.stateDir, "dashboard-trace.png"), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);

  it("leaves the consumer count on the device-state bucket flat while the status line and dashboard run", async () => {
    // The stack is secured: the operator's admin user (read-only on JetStream) looks.
    const nc = await connectNats({ servers: [natsUrl], name: "dashboard-test", credsFile: path.join(up.stateDir, "secrets", "creds", "admin.creds") });
    try {
      const jsm = await jetstreamManager(nc);
      const count = async (): Promise<number> => (await jsm.streams.info("KV_XSF_DEVICE_STATE")).state.consumer_count;
      const before = await count();
      // The status line refreshes every second, the dashboard's cluster view every few; before the fix each
      // refresh left one more consumer on the bucket for five minutes.
      const marker = up.output().length;
      for (let i = 0; i < 2; i++) await up.waitFor(/devices 15\/15 online/, "a status refresh", 30_000, up.output().length);
      expect(up.output().length).toBeGreaterThan(marker);
      const after = await count();
      // One listing may be in flight at the moment of reading (the ingest presence sweep deletes its consumer right after).
      expect(after).toBeLessThanOrEqual(before + 1);
      // Steady watchers: up's status probe, the dashboard, the cache node's invalidation watch and the
      // orchestration node's edge-job mirror (one cloud node here); plus one listing in flight.
      expect(before).toBeLessThanOrEqual(5);
    } finally {
      await nc.close();
    }
  }, 90_000);
});
