// The actuator's output stage: a relay or LED on a digital pin, or a fan or
// dimmer on PWM, chosen by config:
//
//   actuatorMode   digital (default) | pwm
//   actuatorPin    GPIO (default: the board's `led` pin, GPIO 2 on nodemcu)
//   actuatorActiveLow  true for relay boards that switch on a low level
//   pwmHz          PWM frequency (default 1000)
//
// Digital takes 0 or 1 ("set" {"on": true} gives 1); PWM takes a duty cycle
// in 0..1. Anything else throws, and the command is acknowledged FAILED.
import device from "embedded:provider/builtin";
import Digital from "embedded:io/digital";
import PWM from "embedded:io/pwm";
import type { ActuatorOutput } from "../platform";
import type { Settings } from "../settings";

export function actuatorOutput(s: Settings): ActuatorOutput {
  const pin = s.int("actuatorPin", Number(device.pin.led ?? 2), 0, 48);
  const activeLow = s.text("actuatorActiveLow", "false") === "true";
  if (s.choice("actuatorMode", ["digital", "pwm"], "digital") === "digital") {
    const out = new Digital({ pin, mode: Digital.Output });
    return {
      write(value: number): void {
        if (value !== 0 && value !== 1) throw new RangeError(`a digital output takes 0 or 1, got ${value}`);
        out.write((activeLow ? 1 - value : value) as 0 | 1);
      },
    };
  }
  const out = new PWM({ pin, hz: s.int("pwmHz", 1_000, 1, 40_000) });
  const max = 2 ** out.resolution - 1;
  return {
    write(value: number): void {
      if (!(value >= 0 && value <= 1)) throw new RangeError(`a PWM output takes a duty cycle in 0..1, got ${value}`);
      out.write(Math.round((activeLow ? 1 - value : value) * max));
    },
  };
}
