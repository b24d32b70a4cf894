// Public entry of cloud-side NATS connections.
export { connectNats, connectionOptions, natsAuthFromFlags, credsUserName, inboxPrefixFor, NatsPool, type NatsSettings } from "./connection";
export { isCasConflict } from "./kv";
export { readNatsSettings, natsSettingKeys } from "./settings";
export { JsPublisher, parsePubAck, type JsPublishOptions } from "./js-publisher";
