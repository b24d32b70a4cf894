// Public entry of the subject names: the one module that builds them.
export * from "./subjects";
