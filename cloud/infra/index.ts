// Public entry of the local infrastructure: nats-server processes (JetStream
// + MQTT) for `xsfleet up` and the test harness.
export { startLocalNats, type LocalNats, type LocalNatsOptions } from "./local-nats";
export { findNatsServer, natsInstallHint } from "./nats-binary";
export {
  natsServerConfig, serverPlacementTag, operatorConfigLines, mappingConfigLines, startNatsServer, startNatsCluster, anyPort, isPortInUse, natsStartTimeoutMs, freePort, isPortOpen, waitJetStreamReady,
  type NatsServerSpec, type NatsServerPorts, type NatsServerProcess, type NatsOperatorConfig, type NatsTlsConfig,
} from "./nats-server";
export {
  spawnOwnedChild, stopChild, childExited, describeExit, isRunning, findSetpriv, type ChildExit, type OwnedChildOptions,
} from "./owned-child";
