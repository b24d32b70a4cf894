// Runs the firmware scenarios (firmware/sim/scenario.ts): on XS through
// runOnXs, and imported directly on Node; the test compares the bytes.
import {
  runActuatorScenario,
  runSensorScenario,
  type ActuatorScenarioInput,
  type ActuatorScenarioResult,
  type SensorScenarioInput,
  type SensorScenarioResult,
} from "../../../firmware/sim/scenario";

export type ScenarioInput = ({ kind: "sensor" } & SensorScenarioInput) | ({ kind: "actuator" } & ActuatorScenarioInput);

export default function run(input: ScenarioInput): SensorScenarioResult | ActuatorScenarioResult {
  return input.kind === "actuator" ? runActuatorScenario(input) : runSensorScenario(input);
}
