// An ingest node in its own OS process, so chaos tests can kill -9 it
// (spawned by ingest-process.ts; not a test itself). Wired like a cloud
// node's ingest role (cloud/node/roles.ts): it reaches the Raft control
// plane (partition leases, membership) through NATS, and the registry
// gate is the KV registry's watch (unregistered devices are dead-lettered).
// argv: <servers comma-separated> <nodeId> <ingest config JSON>
// stdout: "ready" once the role runs, then one IngestStats JSON line every
// statsIntervalMs; SIGTERM stops the role gracefully (exit 0).
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../cloud/base";
import { ControlClient } from "../../cloud/controlplane";
import { Admission, startIngestRole, type AdmissionPort } from "../../cloud/ingest";
import { DeviceLifecycle, kvAdmissionCache } from "../../cloud/registry";

const statsIntervalMs = 200;
const [serversArg, nodeId, configArg] = process.argv.slice(2);
if (!serversArg || !nodeId) throw new Error("usage: ingest-node.ts <servers> <nodeId> [config JSON]");
const log = createLogger({ level: "error" });
const nc = await connect({ servers: serversArg.split(","), name: nodeId, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
const control = new ControlClient(nc, { clientId: `ingest-${nodeId}`, timeoutMs: 5_000, attemptTimeoutMs: 1_500 });
const gate = kvAdmissionCache(nc, log);
const admission: AdmissionPort = {
  check: async (id) => {
    const lc = await gate.check(id);
    return lc === null ? Admission.Unregistered : lc === DeviceLifecycle.Decommissioned ? Admission.Decommissioned : Admission.Admitted;
  },
};
const role = await startIngestRole({
  nc, nodeId, log, control: control.proposer(), admission,
  config: { ...(JSON.parse(configArg ?? "{}") as Record<string, unknown>) },
});
process.stdout.write("ready\n");
const timer = setInterval(() => process.stdout.write(JSON.stringify(role.stats()) + "\n"), statsIntervalMs);
process.once("SIGTERM", () => {
  clearInterval(timer);
  void role.stop().then(() => { gate.stop(); return nc.drain(); }).finally(() => {
    process.stdout.write(JSON.stringify(role.stats()) + "\n");
    process.exit(0);
  });
});
