// The ECMA-419 sensor-class drivers of the Moddable SDK that firmware/esp32
// uses (modules/drivers/sensors/*); the SDK ships them without typings. Each
// takes its I²C bus in `options.sensor` and returns readings grouped by
// quantity from `sample()` (undefined when a CRC check failed).
declare module "embedded:sensor/Humidity-Temperature/SHT3x" {
  import type { ClimateSensorOptions, ClimateSample } from "embedded:sensor/xsfleet-common";
  export default class SHT3x {
    constructor(options: ClimateSensorOptions);
    sample(): ClimateSample;
    close(): void;
  }
}
declare module "embedded:sensor/Humidity-Temperature/AHT10" {
  import type { ClimateSensorOptions, ClimateSample } from "embedded:sensor/xsfleet-common";
  export default class AHT10 {
    constructor(options: ClimateSensorOptions);
    sample(): ClimateSample;
    close(): void;
  }
}
declare module "embedded:sensor/Barometer-Temperature/BMP280" {
  import type { ClimateSensorOptions, ClimateSample } from "embedded:sensor/xsfleet-common";
  export default class BMP280 {
    constructor(options: ClimateSensorOptions);
    sample(): ClimateSample;
    close(): void;
  }
}
// Types only (no such module at run time): what the three drivers share.
declare module "embedded:sensor/xsfleet-common" {
  import type I2C from "embedded:io/i2c";
  export interface ClimateSensorOptions {
    sensor: { io: typeof I2C; data: number; clock: number; hz?: number; address?: number; port?: number };
    onError?: (message: string) => void;
  }
  export interface ClimateSample {
    thermometer?: { temperature?: number };
    hygrometer?: { humidity?: number };
    barometer?: { pressure?: number };
  }
}
