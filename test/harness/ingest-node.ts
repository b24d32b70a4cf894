// An ingest node in its own OS process, so chaos tests can kill -9 it
// (spawned by ingest-process.ts; not a test itself).
// argv: <servers comma-separated> <nodeId> <ingest config JSON>
// stdout: "ready" once the role runs, then one IngestStats JSON line every
// statsIntervalMs; SIGTERM stops the role gracefully (exit 0).
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../cloud/base";
import { startIngestRole } from "../../cloud/ingest";

const statsIntervalMs = 200;
const [serversArg, nodeId, configArg] = process.argv.slice(2);
if (!serversArg || !nodeId) throw new Error("usage: ingest-node.ts <servers> <nodeId> [config JSON]");
const nc = await connect({ servers: serversArg.split(","), name: nodeId, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
const role = await startIngestRole({
  nc, nodeId, log: createLogger({ level: "error" }),
  config: { ...(JSON.parse(configArg ?? "{}") as Record<string, unknown>) },
});
process.stdout.write("ready\n");
const timer = setInterval(() => process.stdout.write(JSON.stringify(role.stats()) + "\n"), statsIntervalMs);
process.once("SIGTERM", () => {
  clearInterval(timer);
  void role.stop().then(() => nc.drain()).finally(() => {
    process.stdout.write(JSON.stringify(role.stats()) + "\n");
    process.exit(0);
  });
});
