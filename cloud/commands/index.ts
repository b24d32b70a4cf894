// Public entry of command delivery: commands with acknowledgement and
// deadline, persisted in KV and retried end to end (see worker.ts).
export * from "./types";
export * from "./settings";
export { CommandStore, commandsBucket, commandsRetentionMs, commandKey, type VersionedCommand } from "./store";
export { CommandSubmitter, newCommandId, type SendCommandInput, type SubmitResult } from "./submitter";
export { CommandWorker, commandsQueueGroup, type CommandWorkerOptions, type CommandWorkerStats } from "./worker";
export { retryDelayMs, decide, afterTimedSend, afterOnlineSend, afterExpire, type CommandAction } from "./policy";
export { commandEnvelope, sendCommand, publishCommandEvent } from "./downlink";
export { CommandAckConsumer, commandAcksConsumerName, ackDeliverMax, type AckConsumerDeps } from "./ack-consumer";
