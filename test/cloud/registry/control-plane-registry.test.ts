import { ControlStateMachine } from "../../../cloud/control/state-machine";
import { ControlError, type Proposer } from "../../../cloud/control/types";
import { ControlPlaneRegistry } from "../../../cloud/registry/control-plane-registry";
import { runRegistryConformance } from "./conformance";
import { localProposer } from "../../harness/local-proposer";

runRegistryConformance("control-plane state machine through a proposer (in process)", async () => {
  const propose = localProposer(new ControlStateMachine());
  let conflicts = 0;
  const counting: Proposer = async (cmd, session) => {
    const r = await propose(cmd, session);
    if (!r.ok && r.code === ControlError.Conflict) conflicts++;
    return r;
  };
  return {
    writers: [0, 1, 2, 3].map(() => new ControlPlaneRegistry(counting)),
    conflicts: () => conflicts,
    stop: async () => {},
  };
});
