// Public entry of the checkers that judge recorded histories: a
// linearizability checker and a causal consistency checker.
export * from "./lincheck";
export * from "./causal";
