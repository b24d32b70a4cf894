// A cloud node configured for tests: a real nats-server, fast retry timings,
// no HTTP port unless asked for, a silent logger.
import { validateConfig, type CloudConfig } from "../../../cloud/node/config";
import { silentLogger } from "../../../cloud/base";
import { startCloudNode, type CloudNode, type CloudNodeDeps } from "../../../cloud/node/node";

export function testConfig(servers: string[], over: Record<string, unknown> = {}): CloudConfig {
  return validateConfig({
    nodeId: "test-node",
    roles: ["api", "commands"],
    nats: { servers },
    http: { port: null },
    shutdownTimeoutMs: 10_000,
    commands: { retryInitialMs: 200, retryMaxMs: 1000, leaseMs: 3000, tickMs: 50 },
    ...over,
  });
}

export function startTestNode(servers: string[], over: Record<string, unknown> = {}, deps: CloudNodeDeps = {}): Promise<CloudNode> {
  return startCloudNode(testConfig(servers, over), { log: silentLogger, processMetrics: false, ...deps });
}
