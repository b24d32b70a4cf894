// `xsfleet up --prometheus` against a real Prometheus (Debian's package):
// every process of the stack (cloud nodes, Raft replicas, CASPaxos
// acceptors, the `up` process with the simulated fleet) is scraped through
// the file-based discovery file `up` writes, and ingest's point counter
// agrees with what the fleet made — checked with PromQL as an operator would:
//   ingest's points 10 s ago   <=  the points the devices had made by now
//     (exactly once: ingest never counts a point twice or one nobody made);
//   ingest's points now        >=  the points the devices had made 30 s ago
//     (nothing made is missing; 30 s is far beyond batch age + delivery).
// The offsets make both bounds exact whatever the scrape phases are.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../cloud/infra";
import { findPrometheus } from "../../cloud/cli/prometheus";
import { until } from "../harness/wait";
import { startUp, type UpProcess } from "./up-process";

// Without Debian's prometheus this file is skipped and says so; CI (.ci/run)
// installs it and sets XSFLEET_REQUIRE_PROMETHEUS=1, so there it cannot skip.
const havePrometheus = findPrometheus() !== null;
if (!havePrometheus) {
  if (process.env.XSFLEET_REQUIRE_PROMETHEUS) throw new Error("prometheus is missing: apt-get install --no-install-recommends prometheus");
  console.warn("[prometheus test] skipped: prometheus not found (apt-get install --no-install-recommends prometheus)");
}

interface Sample { metric: Record<string, string>; value: [number, string] }

describe.skipIf(!havePrometheus)("xsfleet up --prometheus: every process scraped, ingest's points match the fleet's", () => {
  let up: UpProcess;
  let promUrl: string;

  const query = async (q: string): Promise<Sample[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: Sample[] } };
    if (body.status !== "success") throw new Error(`PromQL ${q}: ${body.error}`);
    return body.data.result;
  };
  const scalar = async (q: string): Promise<number | null> => {
    const r = await query(q);
    return r.length === 0 ? null : Number(r[0]!.value[1]);
  };

  beforeAll(async () => {
    up = await startUp(["--topology", "direct", "--insecure", "--devices", "4", "--actuators", "1", "--cloud-nodes", "2", "--heartbeat-ms", "1000", "--speedup", "200",
      "--dashboard-port", "0", "--backup-interval", "0", "--prometheus", "--prometheus-port", String(await freePort())]);
    promUrl = (await up.waitFor(/prometheus: (http:\/\/127\.0\.0\.1:\d+) scraping/, "prometheus started", 150_000))[1]!;
  }, 180_000);

  afterAll(async () => {
    if (!up) return;
    up.child.kill("SIGINT");
    await up.exited(20_000).catch(() => undefined);
    await up.cleanup();
  });

  it("scrapes every process of the stack, listed in the discovery file", async () => {
    const file = path.join(up.stateDir, "prometheus", "targets.json");
    const groups = JSON.parse(readFileSync(file, "utf8")) as Array<{ targets: string[]; labels: { job: string; instance: string } }>;
    const instances = groups.map((g) => g.labels.instance).sort();
    expect(instances).toEqual(["cloud-1", "cloud-2", "control-1", "control-2", "control-3", "paxos-1", "paxos-2", "paxos-3", "up"]);
    await until("every target up in Prometheus", async () => (await scalar("count(up == 1)")) === instances.length, { timeoutMs: 60_000, intervalMs: 500 });
    const jobs = new Set((await query("up == 1")).map((s) => s.metric.job));
    expect([...jobs].sort()).toEqual(["cloud-node", "control-replica", "paxos-acceptor", "up"]);
    // Each kind exports its own documented metrics.
    expect(await scalar("count(xsfleet_raft_term)")).toBe(3);
    expect(await scalar("count(xsfleet_raft_is_leader == 1)")).toBe(1);
    expect(await scalar("count(xsfleet_paxos_fsyncs_total)")).toBe(3);
    expect(await scalar("sum(xsfleet_fleet_devices)")).toBe(4);
  }, 90_000);

  it("exports only metrics documented in docs/observability.md", async () => {
    const doc = readFileSync(path.join(import.meta.dirname, "..", "..", "docs", "observability.md"), "utf8");
    const names = new Set((await query('count by (__name__) ({__name__=~"xsfleet_.+"})')).map((s) => s.metric.__name__!
      .replace(/_(bucket|sum|count)$/, "")));
    // Node's process metrics (prom-client defaults under our prefix) are documented as a family.
    const ours = [...names].filter((n) => !/^xsfleet_(process|nodejs)_/.test(n));
    expect(ours.length).toBeGreaterThan(20);
    expect(ours.filter((n) => !doc.includes(`\`${n}`))).toEqual([]);
  }, 30_000);

  it("ingest's point counter agrees with the points the fleet made (both bounds exact)", async () => {
    // Enough history for the 30 s offset, and points flowing.
    await until("30 s of fleet points", async () => ((await scalar("sum(xsfleet_fleet_points_total offset 30s)")) ?? 0) > 0, { timeoutMs: 120_000, intervalMs: 500 });
    await until("ingest points", async () => ((await scalar("sum(xsfleet_ingest_points_total offset 10s)")) ?? 0) > 0, { timeoutMs: 60_000, intervalMs: 500 });
    expect(await scalar("sum(xsfleet_fleet_dropped_total)")).toBe(0);
    const upper = await scalar("sum(xsfleet_ingest_points_total offset 10s) <= bool sum(xsfleet_fleet_points_total)");
    const lower = await scalar("sum(xsfleet_ingest_points_total) >= bool sum(xsfleet_fleet_points_total offset 30s)");
    const figures = {
      ingestNow: await scalar("sum(xsfleet_ingest_points_total)"), fleetNow: await scalar("sum(xsfleet_fleet_points_total)"),
      fleet30sAgo: await scalar("sum(xsfleet_fleet_points_total offset 30s)"),
    };
    expect({ upper, lower, figures }).toMatchObject({ upper: 1, lower: 1 });
  }, 180_000);
});
