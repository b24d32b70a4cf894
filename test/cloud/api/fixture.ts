// A cloud node configured for tests: a real nats-server, fast retry timings,
// no HTTP port unless asked for, a silent logger. XSF_UP (where device acks
// arrive, partitioned) is created first, as an ingest node would: start the
// servers with `partitions: testPartitions` so devices' uplinks are mapped.
import { validateConfig, type CloudConfig } from "../../../cloud/node/config";
import { silentLogger } from "../../../cloud/base";
import { startCloudNode, type CloudNode, type CloudNodeDeps } from "../../../cloud/node/node";
import { connectNats } from "../../../cloud/nats";
import { jetstreamManager } from "@nats-io/jetstream";
import { defaultIngestConfig, ensureUplinkStream } from "../../../cloud/ingest";

/** The partition mapping the test servers use (ingest's default). */
export const testPartitions = defaultIngestConfig.partitions;

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

/** Creates XSF_UP (device uplinks, command acks among them) as an ingest node would. */
export async function ensureTestUplinks(servers: string[], replicas = 1): Promise<void> {
  const nc = await connectNats({ servers, name: "test-streams" });
  try {
    await ensureUplinkStream(await jetstreamManager(nc), { replicas, messageBytesMax: defaultIngestConfig.messageBytesMax });
  } finally {
    await nc.close();
  }
}

export async function startTestNode(servers: string[], over: Record<string, unknown> = {}, deps: CloudNodeDeps = {}): Promise<CloudNode> {
  const config = testConfig(servers, over);
  await ensureTestUplinks(servers, config.streams.replicas);
  return startCloudNode(config, { log: silentLogger, processMetrics: false, ...deps });
}
