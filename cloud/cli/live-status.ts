// A live status line: redrawn in place on a terminal, printed as plain lines
// (at a slower cadence) when output goes to a file or CI log.
import { RateMeter as CounterRate } from "../dashboard";

export interface LiveStatus {
  update(line: string): void;
  /** Prints a message above the status line. */
  log(message: string): void;
  stop(): void;
}

export function liveStatus(stream: NodeJS.WriteStream = process.stdout, plainEveryMs = 5_000): LiveStatus {
  const tty = stream.isTTY === true;
  let last = "";
  let lastPlainMs = 0;
  return {
    update(line) {
      last = line;
      if (tty) {
        stream.write(`\r\x1b[K${line.slice(0, (stream.columns ?? 200) - 1)}`);
      } else if (Date.now() - lastPlainMs >= plainEveryMs) {
        lastPlainMs = Date.now();
        stream.write(`${line}\n`);
      }
    },
    log(message) {
      if (tty) stream.write(`\r\x1b[K${message}\n${last}`);
      else stream.write(`${message}\n`);
    },
    stop() {
      if (tty && last) stream.write("\n");
    },
  };
}

/** Named per-second rates of growing counters over a sliding window (0 until known). */
export class RateMeter {
  #meters = new Map<string, CounterRate>();

  constructor(readonly windowMs = 5_000) {}

  rate(name: string, value: number, nowMs = Date.now()): number {
    let m = this.#meters.get(name);
    if (!m) {
      m = new CounterRate(0, this.windowMs);
      this.#meters.set(name, m);
    }
    return m.sample(value, nowMs) ?? 0;
  }
}

export function fmtRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(v >= 100 ? 0 : 1);
}
