// A TraceTable over a trace file (firmware/sim/trace-table.ts format) read
// with Moddable's `file` module one record at a time: the replayed trace
// stays on disk, not in the XS heap, so heap figures of a simulated sensor
// are those of the firmware. The last record read is kept (the replay asks
// for a row's time, then its values).
import { File } from "file";
import type { TraceTable } from "../sim/replay-source";
import { decodeTraceHeader, traceHeaderBytes, traceRecordBytes } from "../sim/trace-table";

export class FileTraceTable implements TraceTable {
  readonly length: number;
  readonly channels: number;
  readonly #file: File;
  readonly #recordBytes: number;
  #cachedRow = -1;
  #cached: DataView | undefined;

  constructor(path: string) {
    if (!File.exists(path)) throw new Error(`trace file ${path} not found (set traceFile in xsfleet-device.json)`);
    const file = new File(path);
    try {
      file.position = 0;
      const header = new Uint8Array(file.read(ArrayBuffer, traceHeaderBytes));
      const h = decodeTraceHeader(header, file.length);
      this.length = h.rows;
      this.channels = h.channels;
    } catch (e) {
      file.close();
      throw new Error(`trace file ${path}: ${String(e)}`);
    }
    this.#file = file;
    this.#recordBytes = traceRecordBytes(this.channels);
  }

  timeMs(i: number): number {
    return this.#record(i).getFloat64(0, true);
  }

  read(i: number, values: Float64Array): void {
    const r = this.#record(i);
    for (let c = 0; c < this.channels; c++) values[c] = r.getFloat64(8 * (1 + c), true);
  }

  #record(i: number): DataView {
    if (i === this.#cachedRow && this.#cached !== undefined) return this.#cached;
    if (!(i >= 0 && i < this.length)) throw new RangeError(`trace row ${i} of ${this.length}`);
    this.#file.position = traceHeaderBytes + i * this.#recordBytes;
    this.#cached = new DataView(this.#file.read(ArrayBuffer, this.#recordBytes));
    this.#cachedRow = i;
    return this.#cached;
  }
}
