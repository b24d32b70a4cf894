// npm run bench:footprint — what a sensor node costs on the device:
// bundle size (what is flashed, before XS compiles it) and XS heap use in
// steady state (slots and chunk bytes after a full GC), read from xsnap's
// meter (a build of xsnap-worker whose meter also reports chunks); then the
// same from the real Moddable build: the XS archive and preload of the
// mcconfig builds (ESP32 and lin) and the heap of a sensor running in mcsim.
// Baseline: the ESP32 `nodemcu` defaults (77 KB chunks, 4928 slots); target:
// under half of each.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { loadRoomClimateFile } from "../firmware/host/room-climate";
import { repoRoot, runManyOnXs, type XsMeter } from "../test/harness/xs";
import { describeMachine } from "./lib/machine";
import { meteredXsnapBinary } from "./lib/xsnap-meter";
import { measureModdableFootprint } from "./lib/moddable-footprint";
import type { FootprintPhase, FootprintResult } from "./entries/sensor-footprint";

const nodemcu = { chunkBytes: 77 * 1024, slots: 4928 };
// xsnap runs 64-bit XS: a slot is 32 bytes there and 16 bytes on the ESP32's
// 32-bit XS; chunk contents hold pointers and lengths, so they shrink too.
// We report the 64-bit measurement as an upper bound for chunks.

async function bundleSize(entry: string, external: string[]): Promise<{ raw: number; gzip: number }> {
  const out = await build({
    entryPoints: [path.join(repoRoot, entry)], bundle: true, write: false, format: "esm", platform: "neutral",
    target: "es2022", minify: true, external, logLevel: "silent",
  });
  const code = out.outputFiles[0]!.contents;
  return { raw: code.length, gzip: gzipSync(code).length };
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KB`;
}

async function main(): Promise<void> {
  console.log("xsfleet footprint benchmark");
  console.log(describeMachine());
  const moddable = ["timer", "time", "mqtt/js", "preference", "file", "flash", "instrumentation", "wifi", "mc/config", "net", "debug", "embedded:*"];
  const sensorBundle = await bundleSize("firmware/esp32/main.ts", moddable);
  console.log(`\nbundle of the device program (firmware/esp32/main.ts + shared/, Moddable modules external, minified):`);
  console.log(`  ${kb(sensorBundle.raw)} (${kb(sensorBundle.gzip)} gzip)`);

  const bin = meteredXsnapBinary((m) => console.error(m));
  const rows = loadRoomClimateFile("location_A-measurement03.csv").get(2)!.slice(0, 400);
    // "settle" measures the world again once the large JSON input of "world" is garbage.
  const phases: FootprintPhase[] = [{ phase: "load" }, { phase: "world", rows }, { phase: "settle" }, { phase: "device" },
    { phase: "run", minutes: 5 }, { phase: "run", minutes: 5 }, { phase: "run", minutes: 5 }];
  console.error("running a sensor node on XS for 16 simulated minutes …");
  const runs = await runManyOnXs<FootprintResult>("bench/entries/sensor-footprint.ts", phases, { xsnapBin: bin });
  const m = (i: number): Required<Pick<XsMeter, "chunks" | "currentHeapCount">> => {
    const meter = runs[i]!.meter;
    if (meter.chunks === undefined || meter.currentHeapCount === undefined) throw new Error("metered xsnap did not report chunks");
    return { chunks: meter.chunks, currentHeapCount: meter.currentHeapCount };
  };
  console.log("\nXS heap after a full GC, per phase (xsnap 64-bit):");
  console.log("phase                    slots    chunk bytes   published  outbox");
  runs.forEach((r, i) => {
    console.log(`${`${i}: ${r.result.phase}`.padEnd(22)} ${String(m(i).currentHeapCount).padStart(7)} ${String(m(i).chunks).padStart(14)} ${String(r.result.published).padStart(11)} ${String(r.result.outboxDepth).padStart(7)}`);
  });
  const world = m(2);
  const steady = m(runs.length - 1);
  const deviceSlots = steady.currentHeapCount - world.currentHeapCount;
  const deviceChunks = steady.chunks - world.chunks;
  const drift = m(runs.length - 1).currentHeapCount - m(runs.length - 2).currentHeapCount;
  console.log(`\nsensor node in steady state (steady - world): ${deviceSlots} slots, ${kb(deviceChunks)} chunks; drift over the last 5 minutes: ${drift} slots`);
  console.log("\n                    measured     nodemcu default   ratio   target (< 0.5)");
  const row = (name: string, v: number, base: number, fmt: (n: number) => string): void => {
    const ratio = v / base;
    console.log(`${name.padEnd(18)} ${fmt(v).padStart(10)} ${fmt(base).padStart(17)}   ${ratio.toFixed(2).padStart(5)}   ${ratio < 0.5 ? "met" : "NOT met"}`);
  };
  row("heap slots", deviceSlots, nodemcu.slots, (n) => String(n));
  row("chunk bytes", deviceChunks, nodemcu.chunkBytes, kb);

  console.log("\n--- the Moddable build (mcconfig) ---");
  const md = await measureModdableFootprint({ runS: 40, warmupS: 10, log: (l) => { if (!/^# /.test(l)) console.error(l); } });
  console.log("\nXS image from xsl (preloaded into flash; sensor):");
  console.log("target           preloaded slots   byte code (preloaded)   our modules' byte code   keys   aliases");
  for (const b of [md.esp32, md.lin]) {
    const x = b.archive;
    console.log(`${b.target.padEnd(16)} ${String(x.preloadedSlots).padStart(15)}   ${kb(x.codeBytes).padStart(21)}   ${kb(x.xsbBytes.ours).padStart(22)}   ${String(x.keys).padStart(4)}   ${String(x.aliases).padStart(7)}`);
  }
  const last = md.heap[md.heap.length - 1]!;
  const slotsSim = Math.round(last.slotBytes / md.simSlotBytes);
  const mcsimDrift = Math.round((last.slotBytes - md.heap[0]!.slotBytes) / md.simSlotBytes);
  console.log(`\nsensor running in mcsim (lin, 64-bit XS), XS heap after a full GC, ${md.heap.length} samples after ${10} s warm-up:`);
  console.log(`  ${slotsSim} slots (${kb(last.slotBytes)}), ${kb(last.chunkBytes)} chunks, ${last.keys} keys; slot drift over the samples: ${mcsimDrift}`);
  console.log("\n                       xsnap (device only)   mcsim (whole machine)   nodemcu default   mcsim / nodemcu");
  console.log(`heap slots             ${String(deviceSlots).padStart(19)}   ${String(slotsSim).padStart(21)}   ${String(nodemcu.slots).padStart(15)}   ${(slotsSim / nodemcu.slots).toFixed(2).padStart(15)}`);
  console.log(`chunk bytes            ${kb(deviceChunks).padStart(19)}   ${kb(last.chunkBytes).padStart(21)}   ${kb(nodemcu.chunkBytes).padStart(15)}   ${(last.chunkBytes / nodemcu.chunkBytes).toFixed(2).padStart(15)}`);
  console.log("(mcsim counts every module's RAM, the SDK's mqtt/js, sockets and timers included; slots there are 32 bytes, 16 on the ESP32)");
}

main().catch((e: unknown) => {
  console.error(`bench:footprint failed: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
