// What a simulated device reports about itself on the lin simulator. There
// is no chip to ask for free memory, flash or radio, so:
//   free heap   the XS heap left in a budget the size of the target device's
//               (config `heapBudgetBytes`, default the nodemcu's 77 KB chunks
//               + 4928 slots × 16 B), from Instrumentation's XS slot and chunk
//               use after a full GC (without one the figures count garbage
//               since the last collection and the result swings to 0; the
//               simulator can afford a GC per heartbeat, the ESP32 reads its
//               allocator instead): what this firmware would leave on that
//               device, measured; the XS machine here is 64-bit, so its slots
//               are twice the size
//   flash, RSSI, CPU load   0 (unknown)
//   CPU MHz     0 (unknown)
import Instrumentation from "instrumentation";
import Debug from "debug";
import type { ResourceProbe } from "../platform";
import type { Settings } from "../settings";

/** nodemcu: 78,848 B chunks + 4,928 slots × 16 B (32-bit XS). */
export const nodemcuHeapBytes = 78_848 + 4_928 * 16;

export interface XsHeapUse {
  slotBytes: number;
  chunkBytes: number;
  keys: number;
  gcCount: number;
}

export class LinResources implements ResourceProbe {
  readonly #slots = Instrumentation.map("XS Slot Heap Used");
  readonly #chunks = Instrumentation.map("XS Chunk Heap Used");
  readonly #keys = Instrumentation.map("XS Keys Used");
  readonly #gcs = Instrumentation.map("XS Garbage Collection Count");
  readonly #budgetBytes: number;

  constructor(s: Settings) {
    this.#budgetBytes = s.int("heapBudgetBytes", nodemcuHeapBytes, 1, 2 ** 31 - 1);
  }

  heapUse(): XsHeapUse {
    const get = (i: number | undefined): number => (i === undefined ? 0 : Instrumentation.get(i) ?? 0);
    return { slotBytes: get(this.#slots), chunkBytes: get(this.#chunks), keys: get(this.#keys), gcCount: get(this.#gcs) };
  }

  freeHeapBytes(): number {
    Debug.gc();
    const u = this.heapUse();
    return Math.max(0, this.#budgetBytes - u.slotBytes - u.chunkBytes);
  }

  flashTotalBytes(): number {
    return 0;
  }

  flashFreeBytes(): number {
    return 0;
  }

  cpuMhz(): number {
    return 0;
  }

  cpuLoadCentiPct(): number {
    return 0;
  }

  rssiDbm(): number {
    return 0;
  }
}
