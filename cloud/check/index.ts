// Public entry of the checkers that judge recorded histories (a
// linearizability checker today; later ones live beside it).
export * from "./lincheck";
