// Event time against real nats-server: a device whose batches arrive out of
// order (shuffled within blocks of a minute, under the operator's two-minute
// allowed lateness) and with retransmits gets exactly the windows of a
// device whose identical batches arrive sorted; a batch older than the
// lateness bound changes nothing and is counted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryWindows, type WindowResultRecord } from "../../../cloud/analytics";
import { Uplink } from "../../../shared/topics";
import { startNats, type NatsCluster } from "../../harness/nats";
import { telemetryEnvelope } from "../../harness/envelopes";
import { until } from "../../harness/wait";
import { prepareBroker, publishUplink, severableControl, startNode } from "./helpers";

const base = 1_700_000_000_000;
const batches = 60;

/** A deterministic shuffle of 1..batches within blocks of 6 (60 s of device time), plus two retransmits. */
function shuffled(): number[] {
  const out: number[] = [];
  for (let b = 0; b < batches; b += 6) {
    const block = Array.from({ length: 6 }, (_, i) => b + i + 1);
    out.push(...[block[3]!, block[0]!, block[5]!, block[1]!, block[4]!, block[2]!]);
  }
  out.splice(20, 0, 7);
  out.splice(40, 0, 30);
  return out;
}

/** A window's content: everything but its id, key and revision (late points that were accepted emitted corrections, so the revision counts differ). */
function comparable(ws: WindowResultRecord[]): string[] {
  return ws.map(({ id: _i, key: _k, revision: _r, ...rest }) => JSON.stringify(rest)).sort();
}

describe("analytics: out-of-order and late data", () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNats();
  }, 60_000);
  afterAll(async () => {
    await nats?.stop();
  });

  it("gives the same windows as sorted data within the lateness bound; beyond it, points are dropped and counted", async () => {
    const url = nats.nodes[0]!.natsUrl;
    const { nc, js } = await prepareBroker(url);
    const node = await startNode(url, "an-1", severableControl().forNode("an-1"), []);
    try {
      for (let s = 1; s <= batches; s++) await publishUplink(js, telemetryEnvelope("sorted-1", s, 10, base), Uplink.Telemetry);
      for (const [i, s] of shuffled().entries()) {
        await publishUplink(js, telemetryEnvelope("shuffled-1", s, 10, base), Uplink.Telemetry);
        // Well past the lateness bound: ten minutes before the first window (seq 61: a new seq, old device time).
        if (i === 30) await publishUplink(js, telemetryEnvelope("shuffled-1", batches + 1, 10, base - (batches + 1) * 10_000 - 600_000), Uplink.Telemetry);
      }
      // Far in the future: the watermark passes every window and its lateness; the windows are final.
      for (const d of ["sorted-1", "shuffled-1"]) await publishUplink(js, telemetryEnvelope(d, 10_000, 1, base), Uplink.Telemetry);
      const windowsOf = async (key: string): Promise<WindowResultRecord[]> =>
        (await queryWindows(js, { key, fromMs: base - 3_600_000, toMs: base + batches * 10_000 + 60_000, limit: 10_000 })).windows;
      await until("every window of both devices is final", async () => {
        const [a, b] = [await windowsOf("sorted-1"), await windowsOf("shuffled-1")];
        return a.length > 0 && a.length === b.length && [...a, ...b].every((w) => w.final);
      }, 60_000);
      const sorted = await windowsOf("sorted-1");
      const out = await windowsOf("shuffled-1");
      // 10 minutes of data, two channels: 11 one-minute windows each (the first batch starts mid-minute).
      expect(sorted.length).toBeGreaterThanOrEqual(20);
      expect(comparable(out)).toEqual(comparable(sorted));
      expect(out.some((w) => w.revision > 1), "late points within the bound updated emitted windows (corrections)").toBe(true);
      const st = node.role.stats();
      expect(st.lateDropped, "the batch beyond the lateness bound: 10 points × 2 channels").toBe(20);
      expect(st.duplicates, "two retransmits").toBe(2);
    } finally {
      await node.role.stop();
      await node.nc.close();
      await nc.close();
    }
  }, 120_000);
});
