// What an ESP32 reports about itself, read from the device:
//   free heap     Instrumentation "System Free Memory" (heap_caps_get_free_size, 8-bit capable)
//   CPU load      Instrumentation "CPU 0"/"CPU 1" (percent busy since the last read; the
//                 busier core counts), present in instrumented builds (mcconfig -d or -i)
//   RSSI          Net.get("RSSI") of the station interface
//   flash         the running app partition's size (total) and the next OTA
//                 partition's size (room for the next image: free); 0 when absent
//   CPU MHz       config `cpuMhz` (the sdkconfig clock; no runtime API reads it)
import Instrumentation from "instrumentation";
import Net from "net";
import Flash from "flash";
import type { ResourceProbe } from "../platform";
import type { Settings } from "../settings";

function partitionBytes(name: string): number {
  try {
    return new Flash(name).byteLength;
  } catch {
    return 0; // no such partition in this partition table
  }
}

export class Esp32Resources implements ResourceProbe {
  readonly #freeIndex = Instrumentation.map("System Free Memory");
  readonly #cpuIndexes: readonly number[];
  readonly #flashTotal: number;
  readonly #flashFree: number;
  readonly #cpuMhz: number;

  constructor(s: Settings) {
    const cpus: number[] = [];
    for (const name of ["CPU 0", "CPU 1"] as const) {
      const i = Instrumentation.map(name);
      if (i !== undefined) cpus.push(i);
    }
    this.#cpuIndexes = Object.freeze(cpus);
    this.#flashTotal = partitionBytes("running");
    this.#flashFree = partitionBytes("nextota");
    this.#cpuMhz = s.int("cpuMhz", 240, 1, 1_000);
  }

  freeHeapBytes(): number {
    return this.#freeIndex === undefined ? 0 : Instrumentation.get(this.#freeIndex) ?? 0;
  }

  flashTotalBytes(): number {
    return this.#flashTotal;
  }

  flashFreeBytes(): number {
    return this.#flashFree;
  }

  cpuMhz(): number {
    return this.#cpuMhz;
  }

  cpuLoadCentiPct(): number {
    let busiest = 0;
    for (const i of this.#cpuIndexes) busiest = Math.max(busiest, Instrumentation.get(i) ?? 0);
    return Math.min(10_000, busiest * 100);
  }

  rssiDbm(): number {
    try {
      const rssi = Net.get("RSSI");
      return typeof rssi === "number" && Number.isFinite(rssi) ? rssi : 0;
    } catch {
      return 0; // not associated yet
    }
  }
}
