// An ingest node in its own process, so a test can SIGKILL it mid-run.
// argv: <servers comma-separated> <nodeId> <config JSON> <stopAckingAfter>
// After `stopAckingAfter` acks it stops acking (effects recorded, acks "lost"),
// then the test kills it: both its unacked and its unprocessed messages must
// be taken over by the other node.
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../../cloud/base";
import { admitAllDevices, startIngestRole } from "../../../cloud/ingest";

const [serversArg, nodeId, configArg, stopAfterArg] = process.argv.slice(2);
const nc = await connect({ servers: serversArg!.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
let acks = 0;
const stopAfter = Number(stopAfterArg ?? "1000000000");
const role = await startIngestRole({ admission: admitAllDevices,
  nc, nodeId: nodeId!, log: createLogger({ level: "error" }),
  config: { ...(JSON.parse(configArg ?? "{}") as Record<string, unknown>), ensureStreams: false },
  faults: { skipAck: () => ++acks > stopAfter },
});
process.stdout.write("ready\n");
setInterval(() => process.stdout.write(JSON.stringify(role.stats()) + "\n"), 200);
