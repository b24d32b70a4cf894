// The Moddable build's side of bench:footprint: what xsl put in the image
// (preloaded slots and byte code, from the real mcconfig builds for lin and
// ESP32) and the XS heap of a sensor running in mcsim against a real
// nats-server, after a full GC (the firmware's lin board traces it when
// config heapReportMs > 0).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildFirmware, esp32BoardDefault, type FirmwareBuild } from "../../firmware/host/mcsim/build";
import { ensureModdableSdk } from "../../firmware/host/mcsim/sdk";
import { loadRoomClimateFile } from "../../firmware/host/room-climate";
import { startNats } from "../../test/harness/nats";
import { moddableFirmware, startModdableDevice, stopModdable } from "../../test/harness/moddable";

export interface McsimHeapSample {
  slotBytes: number;
  chunkBytes: number;
  keys: number;
  gcCount: number;
}

export interface ModdableFootprint {
  lin: FirmwareBuild;
  esp32: FirmwareBuild;
  /** Samples after a full GC, one per second, the first `warmupS` dropped. */
  heap: McsimHeapSample[];
  /** sizeof(txSlot) in the simulator (64-bit XS). */
  simSlotBytes: number;
}

export async function measureModdableFootprint(opts: { runS: number; warmupS: number; log: (l: string) => void }): Promise<ModdableFootprint> {
  const sdk = await ensureModdableSdk(opts.log);
  const esp32 = await buildFirmware({ role: "sensor", target: esp32BoardDefault, sdk, log: opts.log });
  const fw = await moddableFirmware(["sensor"]);
  const lin = fw.builds.get("sensor")!;
  const nats = await startNats();
  const dir = mkdtempSync(path.join(tmpdir(), "xsfleet-footprint-"));
  const heap: McsimHeapSample[] = [];
  try {
    const rows = loadRoomClimateFile("location_A-measurement03.csv").get(2)!;
    const dev = await startModdableDevice(fw, {
      role: "sensor", deviceId: "footprint-1", mqttUrl: nats.nodes[0]!.mqttUrl, stateDir: path.join(dir, "footprint-1"), trace: rows,
      settings: { heartbeatIntervalMs: 1_000, sampleIntervalMs: 250, batchPointsMax: 32, replaySpeedup: 10, heapReportMs: 1_000 },
      onLine: (l) => {
        const m = /^xsfleet: heap (\{.*\})$/.exec(l);
        if (m) heap.push(JSON.parse(m[1]!) as McsimHeapSample);
      },
    });
    opts.log(`running a sensor in mcsim for ${opts.runS} s (heap traced after a GC every second) …`);
    await dev.waitForLine(/^xsfleet: event \{"type":"connected"/);
    const target = opts.runS;
    while (heap.length < target) await new Promise((r) => setTimeout(r, 250));
  } finally {
    await stopModdable();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { lin, esp32, heap: heap.slice(opts.warmupS), simSlotBytes: 32 };
}
