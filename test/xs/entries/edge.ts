// Runs the edge scenarios (firmware/sim/star-scenario.ts, mesh-scenario.ts,
// failover-scenario.ts): on XS through runManyOnXs, and imported directly on
// Node; the test compares what the broker saw and the end states.
import { runStarScenario, type StarScenarioInput, type StarScenarioResult } from "../../../firmware/sim/star-scenario";
import { runMeshScenario, type MeshScenarioInput, type MeshScenarioResult } from "../../../firmware/sim/mesh-scenario";
import { runFailoverScenario, type FailoverScenarioInput, type FailoverScenarioResult } from "../../../firmware/sim/failover-scenario";

export type EdgeInput = ({ kind: "star" } & StarScenarioInput) | ({ kind: "mesh" } & MeshScenarioInput) | ({ kind: "failover" } & FailoverScenarioInput);

export default function run(input: EdgeInput): StarScenarioResult | MeshScenarioResult | FailoverScenarioResult {
  return input.kind === "star" ? runStarScenario(input) : input.kind === "mesh" ? runMeshScenario(input) : runFailoverScenario(input);
}
