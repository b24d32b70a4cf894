// Public entry of the linearizability checker and its sequential models.
export { checkOperations, CheckResult, SEARCH_STEPS_MAX, type Operation, type Model, type CheckReport } from "./checker";
export { kvModel, type KvInput, type KvOutput, type KvOperation } from "./kv-model";
