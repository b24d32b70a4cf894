// Public entry of the local infrastructure: nats-server processes (JetStream
// + MQTT) for `xsfleet up` and the test harness.
export { startLocalNats, type LocalNats, type LocalNatsOptions } from "./local-nats";
export { findNatsServer, natsInstallHint } from "./nats-binary";
export { natsServerConfig, spawnNatsServer, freePort, isPortOpen, waitForPort, waitJetStreamReady, type NatsServerSpec } from "./nats-server";
