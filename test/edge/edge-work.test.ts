// The edge-job settings on a gateway (firmware/edge/gateway.ts applySettings
// → edge-work.ts): a relay job adds its children to the allow-list, on top of
// the "children" setting; a job setting that does not parse is refused and
// counted while the rest applies; jobs leave when the config drops them; a
// child's telemetry that an edge job cannot read is relayed unchanged.
import { describe, expect, it } from "vitest";
import { EdgeWork } from "../../firmware/edge/edge-work";
import { Gateway } from "../../firmware/edge/gateway";
import { MemoryNetwork } from "../../firmware/sim/memory-links";
import { SeededRandom } from "../../firmware/sim/sim-clock";
import { createSimPlatform, createSimWorld } from "../../firmware/sim/sim-platform";
import { createEnvelope, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { parseJob, type EdgeJob } from "../../shared/edge-jobs";

describe("edge jobs on a gateway", () => {
  it("relay jobs extend the allow-list; bad job settings are counted; dropped jobs stop", () => {
    const world = createSimWorld();
    const p = createSimPlatform(world, { seed: 1 });
    const gw = new Gateway({ ...p, links: new MemoryNetwork(world.clock, new SeededRandom(1)).host("gw").links }, { gatewayId: "gw", port: 1884, allow: ["a"] });
    gw.applySettings([
      { key: "children", value: "a,b" },
      { key: "job.relay-1", value: "relay;c=c,d" },
      { key: "job.agg-1", value: "aggregate;w=5000" },
      { key: "job.bad", value: "aggregate;w=1" },
    ]);
    expect(gw.allowList).toEqual(["a", "b", "c", "d"]);
    expect(gw.work.jobIds()).toEqual(["agg-1"]);
    expect(gw.work.aggregating).toBe(true);
    expect(gw.stats.jobsRefused).toBe(1);
    gw.applySettings([{ key: "children", value: "a,b" }]);
    expect(gw.allowList).toEqual(["a", "b"]);
    expect(gw.work.jobIds()).toEqual([]);
    expect(gw.work.aggregating).toBe(false);
  });

  it("telemetry an aggregate job cannot read goes up unchanged, counted; without jobs nothing is touched", () => {
    const w = new EdgeWork();
    const env = encodeEnvelope(createEnvelope({ schemaVersion, deviceId: "a", seq: 5, heartbeat: { heartbeatSeq: 1, uptimeMs: 1, freeHeapBytes: 1, rssiDbm: -50, counterDigest: 0, outboxDepth: 0, outboxDropped: 0, cpuLoadCentiPct: 0 } }));
    expect(w.telemetry("a", env, true)).toBe(env);
    w.configure([parseJob("agg-1", "aggregate;w=5000") as EdgeJob]);
    expect(w.telemetry("a", env, true)).toBe(env);
    expect(w.stats.undecodable).toBe(1);
  });
});
