// Placeholder sensor for boards without a climate sensor wired: a slow,
// deterministic waveform at the room-climate channels' resolutions. A real
// driver (e.g. ECMA-419 `embedded:sensor/Humidity-Temperature/SHT3x`)
// implements the same SensorSource: read once per `next` call.
import type { ChannelSpec, SensorSource } from "../platform";

export const climateChannels: readonly ChannelSpec[] = [
  { name: "temperature", unit: "Cel", resolution: 0.01 },
  { name: "humidity", unit: "%RH", resolution: 0.001 },
];

export class SyntheticClimateSensor implements SensorSource {
  readonly channels = climateChannels;
  #lastMs = -1;

  next(wallMs: number, values: Float64Array): number {
    if (wallMs === this.#lastMs) return -1; // one reading per poll
    this.#lastMs = wallMs;
    const phase = (wallMs % 86_400_000) / 86_400_000;
    values[0] = Math.round((21 + 2 * Math.sin(2 * Math.PI * phase)) * 100) / 100;
    values[1] = Math.round((45 + 5 * Math.cos(2 * Math.PI * phase)) * 1000) / 1000;
    return wallMs;
  }
}
