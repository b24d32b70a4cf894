// Stream core: event-time windows, quantile sketches and alert rules.
// Pure and XS-safe (shared/ runs on devices, edge nodes and the cloud).
export { streamLimits, type StreamLimits } from "./limits";
export { exactAdd, exactMerge, exactValue, valueAbsMax } from "./exact-sum";
export { QuantileSketch, SketchError, type SketchJson, type SketchOptions, type SketchStoreJson } from "./sketch";
export { checkWindowSpec, windowsOf, type WindowBounds, type WindowSpec } from "./window-spec";
export {
  WindowOperator,
  windowAggregates,
  windowResultId,
  type AddOutcome,
  type WindowAggJson,
  type WindowAggregate,
  type WindowKeyJson,
  type WindowOperatorConfig,
  type WindowOperatorSnapshot,
  type WindowOperatorStats,
  type WindowResult,
  type WindowStateJson,
} from "./window-operator";
export {
  canonicalJson,
  validateRule,
  type AbsenceCondition,
  type ActionDef,
  type ActionOn,
  type CompositeCondition,
  type Condition,
  type RateCondition,
  type RuleDef,
  type RuleValidation,
  type Severity,
  type ThresholdCondition,
  type WindowCondition,
} from "./rules";
export {
  RuleEngine,
  type AlertTransition,
  type RuleEngineOptions,
  type RuleEngineSnapshot,
  type RuleEngineStats,
  type RuleKeyStateJson,
} from "./rule-engine";
