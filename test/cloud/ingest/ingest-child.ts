// An ingest node in its own process, so a test can SIGKILL it mid-run.
// argv: <servers comma-separated> <nodeId> <config JSON> <stopAckingAfter>
// It reaches the control plane (partition leases, membership) through NATS,
// as a cloud node does. After `stopAckingAfter` acks it stops acking
// (effects recorded, acks "lost"), then the test kills it: both its unacked
// and its unprocessed messages must be taken over by the new owners of its
// partitions. Prints "ready", then its stats as one JSON line every 200 ms.
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../../cloud/base";
import { ControlClient } from "../../../cloud/controlplane";
import { admitAllDevices, startIngestRole } from "../../../cloud/ingest";

const [serversArg, nodeId, configArg, stopAfterArg] = process.argv.slice(2);
const nc = await connect({ servers: serversArg!.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
let acks = 0;
const stopAfter = Number(stopAfterArg ?? "1000000000");
const control = new ControlClient(nc, { clientId: `ingest-${nodeId}`, timeoutMs: 5_000, attemptTimeoutMs: 1_500 });
const role = await startIngestRole({
  nc, nodeId: nodeId!, log: createLogger({ level: "error" }), control: control.proposer(), admission: admitAllDevices,
  config: { ...(JSON.parse(configArg ?? "{}") as Record<string, unknown>), ensureStreams: false },
  faults: { skipAck: () => ++acks > stopAfter },
});
process.stdout.write("ready\n");
setInterval(() => process.stdout.write(JSON.stringify(role.stats()) + "\n"), 200);
