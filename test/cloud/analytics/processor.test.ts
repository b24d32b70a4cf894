// The partition processor without a broker: rules listing devices are split
// by partition (a listed device is watched by its own partition only, so an
// absence rule does not raise in every partition), and a checkpoint restores
// a processor that continues exactly as the original does.
import { describe, expect, it } from "vitest";
import { defaultIngestConfig } from "../../../cloud/ingest";
import { PartitionProcessor, partitionRules, type ProcessorConfig } from "../../../cloud/analytics";
import { partitionedUplinkSubject } from "../../../cloud/subjects";
import { encodeEnvelope } from "../../../shared/proto/xsfleet.gen";
import type { RuleDef } from "../../../shared/stream";
import { devicePartition, Uplink } from "../../../shared/topics";
import { telemetryEnvelope } from "../../harness/envelopes";
import { testOperators } from "./helpers";

const partitions = 4;
const devices = ["d-a", "d-b", "d-c", "d-d", "d-e", "d-f", "d-g", "d-h"];
const silent: RuleDef = { id: "silent", match: { devices, channel: "humidity" }, when: { kind: "absence", forMs: 60_000 } };
const humid: RuleDef = { id: "humid", match: { channel: "humidity" }, when: { kind: "threshold", above: 45, clearBelow: 42 } };

function config(partition: number): ProcessorConfig {
  return { partition, partitions, operators: testOperators, rules: [silent, humid], decode: defaultIngestConfig, dedup: defaultIngestConfig, dedupDevicesMax: 1000 };
}

describe("analytics partition processor", () => {
  it("splits rules that list devices by partition; rules without a list stay whole", () => {
    const seen: string[] = [];
    for (let p = 0; p < partitions; p++) {
      const rs = partitionRules([silent, humid], p, partitions);
      expect(rs.find((r) => r.id === "humid")).toEqual(humid);
      const mine = rs.find((r) => r.id === "silent")?.match.devices ?? [];
      for (const d of mine) expect(devicePartition(d, partitions)).toBe(p);
      seen.push(...mine);
    }
    expect(seen.sort()).toEqual(devices);
  });

  it("an absence rule raises only in the partition of the silent device; a restored checkpoint continues identically", () => {
    const base = 1_700_000_000_000;
    const p = devicePartition("d-a", partitions);
    const others = devices.filter((d) => d !== "d-a" && devicePartition(d, partitions) === p);
    const inP = (d: string) => devicePartition(d, partitions) === p;
    const msgs = Array.from({ length: 30 }, (_, i) => {
      // d-a goes silent after its 5th batch; a device of another partition is never sent here.
      const d = i < 5 ? "d-a" : others[0] ?? "d-a";
      const env = telemetryEnvelope(d, i + 1, 5, base);
      return { subject: partitionedUplinkSubject(d, Uplink.Telemetry, partitions), data: encodeEnvelope(env), streamSeq: i + 1, timeMs: base + (i + 1) * 10_000 };
    }).filter((m) => inP(m.subject.split(".")[5]!));
    const a = new PartitionProcessor(config(p));
    const outA = msgs.map((m) => a.process(m));
    const raised = outA.flatMap((o) => o.transitions).filter((t) => t.ruleId === "silent" && t.state === "raised").map((t) => t.key);
    expect(others.length, "another listed device shares d-a's partition").toBeGreaterThan(0);
    expect(raised).toEqual(["d-a"]);
    // Every other partition, fed nothing but ticks, raises nothing for devices it does not own.
    for (let q = 0; q < partitions; q++) {
      if (q === p) continue;
      const proc = new PartitionProcessor(config(q));
      expect(proc.tick(Date.now()).transitions).toEqual([]);
    }
    // Checkpoint after half, restore, feed the rest: the same outputs as the uninterrupted processor.
    const half = Math.floor(msgs.length / 2);
    const b = new PartitionProcessor(config(p));
    msgs.slice(0, half).forEach((m) => b.process(m));
    const c = new PartitionProcessor(config(p), JSON.parse(JSON.stringify(b.checkpoint())));
    const outC = msgs.slice(half).map((m) => c.process(m));
    expect(JSON.stringify(outC)).toEqual(JSON.stringify(outA.slice(half)));
    // A message at or below the checkpoint's seq is skipped.
    expect(c.process(msgs[0]!)).toEqual({ results: [], transitions: [] });
  });
});
