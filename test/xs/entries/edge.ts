// Runs the edge scenarios (firmware/sim/star-scenario.ts, mesh-scenario.ts, edge-jobs-scenario.ts):
// on XS through runManyOnXs, and imported directly on Node; the test
// compares what the broker saw and the end states.
import { runStarScenario, type StarScenarioInput, type StarScenarioResult } from "../../../firmware/sim/star-scenario";
import { runMeshScenario, type MeshScenarioInput, type MeshScenarioResult } from "../../../firmware/sim/mesh-scenario";
import { runEdgeJobsScenario, type EdgeJobsScenarioInput, type EdgeJobsScenarioResult } from "../../../firmware/sim/edge-jobs-scenario";

export type EdgeInput = ({ kind: "star" } & StarScenarioInput) | ({ kind: "mesh" } & MeshScenarioInput) | ({ kind: "jobs" } & EdgeJobsScenarioInput);

export default function run(input: EdgeInput): StarScenarioResult | MeshScenarioResult | EdgeJobsScenarioResult {
  return input.kind === "star" ? runStarScenario(input) : input.kind === "mesh" ? runMeshScenario(input) : runEdgeJobsScenario(input);
}
