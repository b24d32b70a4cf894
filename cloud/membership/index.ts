// Public entry of cloud-node membership.
export * from "./types";
export { MembershipDriver, defaultCloudDetector, SUSPICION_CAP, type MembershipOptions, type MemberStatusEvent, type MembershipStats } from "./driver";
export { RecoveryHistory, HISTORY_ENTRIES_MAX_DEFAULT } from "./history";
export { ClusterApi, CLUSTER_API_QUEUE, type ClusterApiOptions } from "./api";
export { combineStatus, statusCause } from "./view";
export { encodeHeartbeat, decodeHeartbeat, encodeSwim, decodeSwim, DEFAULT_CODEC_LIMITS, type CodecLimits } from "./codec";
export { localResources } from "./resources";
export { registerMembershipMetrics, probeRttBuckets } from "./metrics";
