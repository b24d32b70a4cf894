// Runs the edge scenarios (firmware/sim/star-scenario.ts, mesh-scenario.ts,
// failover-scenario.ts, edge-jobs-scenario.ts): on XS through runManyOnXs, and
// imported directly on Node; the test compares what the broker saw and the end states.
import { runStarScenario, type StarScenarioInput, type StarScenarioResult } from "../../../firmware/sim/star-scenario";
import { runMeshScenario, type MeshScenarioInput, type MeshScenarioResult } from "../../../firmware/sim/mesh-scenario";
import { runFailoverScenario, type FailoverScenarioInput, type FailoverScenarioResult } from "../../../firmware/sim/failover-scenario";
import { runEdgeJobsScenario, type EdgeJobsScenarioInput, type EdgeJobsScenarioResult } from "../../../firmware/sim/edge-jobs-scenario";

export type EdgeInput =
  | ({ kind: "star" } & StarScenarioInput)
  | ({ kind: "mesh" } & MeshScenarioInput)
  | ({ kind: "failover" } & FailoverScenarioInput)
  | ({ kind: "jobs" } & EdgeJobsScenarioInput);

export default function run(input: EdgeInput): StarScenarioResult | MeshScenarioResult | FailoverScenarioResult | EdgeJobsScenarioResult {
  switch (input.kind) {
    case "star": return runStarScenario(input);
    case "mesh": return runMeshScenario(input);
    case "failover": return runFailoverScenario(input);
    case "jobs": return runEdgeJobsScenario(input);
  }
}
