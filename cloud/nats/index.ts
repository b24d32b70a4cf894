// Public entry of cloud-side NATS connections.
export { connectNats, connectionOptions, natsAuthFromFlags, credsUserName, inboxPrefixFor, type NatsSettings } from "./connection";
export { NatsPool, PoolExhausted, type NatsPoolOptions, type NatsPoolStats } from "./pool";
export { isCasConflict } from "./kv";
export { readNatsSettings, natsSettingKeys } from "./settings";
export { JsPublisher, JsPublishError, parsePubAck, type JsPublishOptions } from "./js-publisher";
