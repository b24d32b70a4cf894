// Temperature and humidity (or pressure) from an ECMA-419 sensor-class driver
// of the Moddable SDK over I²C, chosen by config:
//
//   sensor     sht3x (default) | aht10 | bmp280
//   i2cData, i2cClock   pins (default: the board's I2C.default, GPIO 21/22 on nodemcu)
//   i2cAddress          the driver's default unless set (e.g. 0x45 for an SHT3x with ADDR high)
//   i2cHz               bus speed (default 100 kHz)
//
// One reading per sample tick. A failed read (bus error, bad CRC) reports
// NaN, which the runtime refuses and counts as samplesDropped, so a broken
// sensor is visible in the counters instead of silently stopping telemetry.
import device from "embedded:provider/builtin";
import SHT3x from "embedded:sensor/Humidity-Temperature/SHT3x";
import AHT10 from "embedded:sensor/Humidity-Temperature/AHT10";
import BMP280 from "embedded:sensor/Barometer-Temperature/BMP280";
import type { ClimateSample } from "embedded:sensor/xsfleet-common";
import type { ChannelSpec, SensorSource } from "../platform";
import type { Settings } from "../settings";

export const ClimateSensorModel = Object.freeze({ SHT3x: "sht3x", AHT10: "aht10", BMP280: "bmp280" } as const);
export type ClimateSensorModel = (typeof ClimateSensorModel)[keyof typeof ClimateSensorModel];

const temperature: ChannelSpec = Object.freeze({ name: "temperature", unit: "Cel", resolution: 0.01 });
const humidity: ChannelSpec = Object.freeze({ name: "humidity", unit: "%RH", resolution: 0.001 });
const pressure: ChannelSpec = Object.freeze({ name: "pressure", unit: "Pa", resolution: 1 });
const humidityChannels: readonly ChannelSpec[] = Object.freeze([temperature, humidity]);
const pressureChannels: readonly ChannelSpec[] = Object.freeze([temperature, pressure]);

interface Driver {
  sample(): ClimateSample;
}

export class ClimateSensor implements SensorSource {
  readonly channels: readonly ChannelSpec[];
  readonly #driver: Driver;
  readonly #pressure: boolean;
  #lastMs = -1;

  constructor(s: Settings) {
    const model = s.choice("sensor", [ClimateSensorModel.SHT3x, ClimateSensorModel.AHT10, ClimateSensorModel.BMP280], ClimateSensorModel.SHT3x);
    const bus = device.I2C.default;
    const sensor = {
      io: device.io.I2C,
      data: s.int("i2cData", Number(bus.data), 0, 48),
      clock: s.int("i2cClock", Number(bus.clock), 0, 48),
      hz: s.int("i2cHz", 100_000, 1_000, 1_000_000),
      ...(s.has("i2cAddress") ? { address: s.int("i2cAddress", 0, 0x08, 0x77) } : {}),
    };
    this.#pressure = model === ClimateSensorModel.BMP280;
    this.channels = this.#pressure ? pressureChannels : humidityChannels;
    this.#driver = model === ClimateSensorModel.SHT3x ? new SHT3x({ sensor })
      : model === ClimateSensorModel.AHT10 ? new AHT10({ sensor })
      : new BMP280({ sensor });
  }

  next(wallMs: number, values: Float64Array): number {
    if (wallMs === this.#lastMs) return -1; // one reading per poll
    this.#lastMs = wallMs;
    let r: ClimateSample | undefined;
    try {
      r = this.#driver.sample();
    } catch {
      r = undefined; // bus error: reported as NaN below
    }
    values[0] = r?.thermometer?.temperature ?? NaN;
    values[1] = (this.#pressure ? r?.barometer?.pressure : r?.hygrometer?.humidity) ?? NaN;
    return wallMs;
  }
}
