#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader (no build step).
import { register } from "tsx/esm/api";

register();
await import("../cloud/cli/main.ts");
