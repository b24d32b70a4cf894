// Public entry of the control-plane state machine (replicated by
// cloud/controlplane over cloud/raft). See README.md.
export * from "./types";
export { ControlStateMachine, SnapshotError, isReadCommand } from "./state-machine";
export { DEFAULT_CONTROL_LIMITS, resolveLimits, type ControlLimits } from "./limits";
export { encodeEnvelope, decodeEnvelope, validateEnvelope, readApplyResult } from "./codec";
export { Sessions, type SessionLimits, type SessionCheck, type ResponseReader } from "./sessions";
export { FieldError } from "./fields";
export { canonicalBytes, parseBoundedJson } from "./canonical-json";
export { RuleTable, checkRuleJson, type RulesDump } from "./rules";
export { restoreCommands, RESTORE_COUNTER_GAP_DEFAULT, RESTORE_COUNTER_GAP_MAX, RESTORE_CHUNK_BYTES } from "./restore";
