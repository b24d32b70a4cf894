// Public entry of cloud-side NATS connections.
export { connectNats, connectionOptions, NatsPool, type NatsSettings } from "./connection";
export { isCasConflict } from "./kv";
export { readNatsSettings, natsSettingKeys } from "./settings";
