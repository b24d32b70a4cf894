import { defineConfig } from "vitest/config";

// Integration tests start real nats-server processes; 2 cores is the budget,
// so files run with bounded parallelism and generous per-test timeouts.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
