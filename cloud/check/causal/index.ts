// Public entry of the causal consistency checker (multi-value registers).
export { checkCausal, causalOpsMax, type CausalOp, type CausalRead, type CausalWrite, type CausalDelete, type CausalDot, type CausalReport } from "./checker";
