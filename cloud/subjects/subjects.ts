// Every NATS subject the cloud tier uses, built here and nowhere else.
// Device subjects (what devices publish and receive over MQTT) are built by
// shared/topics.ts, which the firmware shares; this module wraps them and
// adds the cloud's own: integrator outputs, history, dead letters, the
// management and cluster APIs, membership, the control plane and Raft.
// Tokens that come from outside (device ids, node ids, channel names) are
// checked or escaped so a subject never gains or loses a level.
import {
  allDevicesSubject as sharedAllDevicesSubject,
  deviceSubject as sharedDeviceSubject,
  partitionedDeviceSubject,
  partitionRoot,
  Uplink,
  Downlink,
} from "../../shared/topics";
import { provisioningSubject, provisioningSubjectRoot, ProvisioningTopic } from "../../shared/provisioning";

const root = "xsfleet.v1";

// ---- devices (MQTT xsfleet/v1/dev/<id>/<kind> as nats-server maps it) ----

/** `xsfleet.v1.dev.<id>.<kind>`: one device's uplink or downlink. */
export function deviceSubject(deviceId: string, kind: Uplink | Downlink): string {
  return sharedDeviceSubject(deviceId, kind);
}

/** `xsfleet.v1.dev.*.<kind>`: one kind across all devices. */
export function allDevicesSubject(kind: Uplink | Downlink): string {
  return sharedAllDevicesSubject(kind);
}

/** `xsfleet.v1.dev.<id>.rcpt`: the device's receipt downlink (MQTT topic
 *  xsfleet/v1/dev/<id>/rcpt, QoS 0; docs/delivery.md). */
export function receiptSubject(deviceId: string): string {
  return sharedDeviceSubject(deviceId, Downlink.Receipt);
}

// ---- partitions (docs/delivery.md: one ordered writer per device) ----

/** `xsfleet.v1.p.<P(id)>.dev.<id>.<kind>`: an uplink after the broker's partition mapping. */
export function partitionedUplinkSubject(deviceId: string, kind: Uplink, partitions: number): string {
  return partitionedDeviceSubject(deviceId, kind, partitions);
}

/** `xsfleet.v1.p.<n>.dev.*.*`: every uplink of partition n (a consumer's filter). */
export function partitionSubject(partition: number): string {
  return `${partitionRoot}.${partition}.dev.*.*`;
}

/** `xsfleet.v1.p.*.dev.*.*`: every partitioned uplink (a stream's subjects). */
export const allPartitionedUplinks = `${partitionRoot}.*.dev.*.*`;

/** `xsfleet.v1.p.*.dev.*.<kind>`: one uplink kind of every device after the partition mapping. */
export function allPartitionedDevicesSubject(kind: Uplink): string {
  return `${partitionRoot}.*.dev.*.${kind}`;
}

/** Every subject an uplink of these kinds can arrive on: mapped into its
 *  partition by the broker, or as the device sent it (an unmapped broker;
 *  the MQTT will in operator mode). Core subscriptions to device uplinks
 *  listen on all of them. */
export function allRoutesOfUplinks(kinds: readonly Uplink[]): string[] {
  return kinds.flatMap((k) => [allDevicesSubject(k), allPartitionedDevicesSubject(k)]);
}

/**
 * `XSF_UP`: the one stream that captures every device uplink — the
 * partitioned subjects and the unmapped wills (docs/delivery.md). Named here
 * because ingest (which creates it) and commands (which reads command acks
 * from it) both use it.
 */
export const uplinkStream = "XSF_UP";

/** Subjects `XSF_UP` captures: every partitioned uplink, and the MQTT will (nats-server 2.9 does not map it). */
export const uplinkStreamSubjects: readonly string[] = Object.freeze([allPartitionedUplinks, sharedAllDevicesSubject(Uplink.Status)]);

/**
 * The subject mappings that partition device uplinks, for the broker's
 * configuration (config file `mappings`, or the account JWT in operator
 * mode). Downlinks stay unmapped. nats-server 2.9 does not map the MQTT will,
 * which therefore arrives on `xsfleet.v1.dev.<id>.status` (docs/delivery.md).
 */
export function uplinkPartitionMappings(partitions: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of Object.values(Uplink)) {
    out[sharedAllDevicesSubject(kind)] = `${partitionRoot}.{{partition(${partitions},1)}}.dev.{{wildcard(1)}}.${kind}`;
  }
  return out;
}

// ---- provisioning and trust (docs/security.md) ----

/** `xsfleet.v1.prov.<claimId>.req`: a device holding claim `claimId` asks for its credential. */
export function provisioningRequestSubject(claimId: string): string {
  return provisioningSubject(claimId, ProvisioningTopic.Request);
}

/** `xsfleet.v1.prov.<claimId>.resp`: the answer, readable only with that claim. */
export function provisioningResponseSubject(claimId: string): string {
  return provisioningSubject(claimId, ProvisioningTopic.Response);
}

/** `xsfleet.v1.prov.*.req`: every provisioning request (the provisioning role's subscription). */
export const allProvisioningRequestsSubject = `${provisioningSubjectRoot}.*.${ProvisioningTopic.Request}`;

const trustRoot = `${root}.trust`;

/** `xsfleet.v1.trust.claimuse.<claimId>`: the one message that consumes a claim (stream XSF_CLAIM_USES). */
export function claimUseSubject(claimId: string): string {
  return `${trustRoot}.claimuse.${claimId}`;
}
export const allClaimUsesSubject = `${trustRoot}.claimuse.*`;

// ---- integrator outputs ----

/** Device events published as JSON on `xsfleet.v1.events.<id>.<event>`. */
export const DeviceEvent = Object.freeze({
  Registered: "registered",
  Online: "online",
  Offline: "offline",
  CommandAcked: "command-acked",
  CommandExpired: "command-expired",
  Decommissioned: "decommissioned",
  /** A device shadow document changed (cloud/shadow, docs/shadow.md). */
  Shadow: "shadow",
} as const);
export type DeviceEvent = (typeof DeviceEvent)[keyof typeof DeviceEvent];

const outRoot = `${root}.out`;
const eventsRoot = `${root}.events`;

/** Decoded telemetry of one device as JSON (stream XSF_OUT). */
export function outTelemetrySubject(deviceId: string): string {
  return `${outRoot}.${deviceId}.telemetry`;
}
export const allOutTelemetrySubject = `${outRoot}.*.telemetry`;
/** `xsfleet.v1.out.>`: every integrator output. */
export const allOutSubject = `${outRoot}.>`;

export function deviceEventSubject(deviceId: string, event: DeviceEvent): string {
  return `${eventsRoot}.${deviceId}.${event}`;
}
export const allDeviceEventsSubject = `${eventsRoot}.>`;

// ---- history (stream XSF_HIST) and dead letters (stream XSF_DLQ) ----

const historyRoot = `${root}.hist`;
const plainToken = /^[A-Za-z0-9_-]{1,64}$/;

/** Channel name → subject token: [A-Za-z0-9_-] names as they are, anything
 *  else as "~" + hex of its UTF-8 bytes (subject tokens may not hold '.', ' ',
 *  '*', '>'). */
export function channelToken(name: string): string {
  if (plainToken.test(name)) return name;
  let hex = "~";
  for (const b of new TextEncoder().encode(name)) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** Last token of batch-layout history records; never a channel token ("~" +
 *  text that is not hex cannot come out of channelToken). */
export const historyBatchToken = "~batch";

/** Per-channel history records: `xsfleet.v1.hist.<device>.<channel token>`. */
export function historySubject(deviceId: string, channel: string): string {
  return `${historyRoot}.${deviceId}.${channelToken(channel)}`;
}

/** Batch-layout history records: `xsfleet.v1.hist.<device>.~batch`. */
export function historyBatchSubject(deviceId: string): string {
  return `${historyRoot}.${deviceId}.${historyBatchToken}`;
}
export const allHistorySubject = `${historyRoot}.>`;

const dlqRoot = `${root}.dlq`;

/** Dead letters by reason: `xsfleet.v1.dlq.<reason>`. */
export function dlqSubject(reason: string): string {
  return `${dlqRoot}.${reason}`;
}
export const allDlqSubject = `${dlqRoot}.>`;

// ---- analytics: window results (stream XSF_ANALYTICS) and alerts (stream XSF_ALERTS) ----

const analyticsRoot = `${root}.analytics`;
const alertsRoot = `${root}.alerts`;

/** The stream of window results (cloud/analytics, docs/analytics.md). */
export const analyticsStream = "XSF_ANALYTICS";
/** The stream of alert transitions (raised, acknowledged, cleared). */
export const alertsStream = "XSF_ALERTS";

/** One window result: `xsfleet.v1.analytics.<operator>.<key>.<channel>`;
 *  operator, key and channel escaped as channel tokens (a key may be a group such as a site). */
export function windowResultSubject(operator: string, key: string, channel: string): string {
  return `${analyticsRoot}.${channelToken(operator)}.${channelToken(key)}.${channelToken(channel)}`;
}
/** Every window result of one operator and key (`*` for any). */
export function windowResultsFilter(operator: string | null, key: string | null): string {
  return `${analyticsRoot}.${operator === null ? "*" : channelToken(operator)}.${key === null ? "*" : channelToken(key)}.*`;
}
export const allWindowResultsSubject = `${analyticsRoot}.>`;

/** One alert's transitions: `xsfleet.v1.alerts.<rule>.<key>` (JSON AlertEvent). */
export function alertSubject(ruleId: string, key: string): string {
  return `${alertsRoot}.${channelToken(ruleId)}.${channelToken(key)}`;
}
export const allAlertsSubject = `${alertsRoot}.>`;
/** Alert events of one rule and/or key (null: any). */
export function alertsFilter(ruleId: string | null, key: string | null): string {
  return `${alertsRoot}.${ruleId === null ? "*" : channelToken(ruleId)}.${key === null ? "*" : channelToken(key)}`;
}

/** Events a rule's `event` action publishes: `xsfleet.v1.ruleevents.<rule>` (JSON AlertEvent). */
export function ruleEventSubject(ruleId: string): string {
  return `${root}.ruleevents.${channelToken(ruleId)}`;
}

// ---- management API ($SRV micro service xsfleet-api) ----

const apiRoot = `${root}.api`;

/** `xsfleet.v1.api.<endpoint>`, e.g. devices.register. */
export function apiSubject(endpoint: string): string {
  return `${apiRoot}.${endpoint}`;
}

// ---- the distributed cache (cloud/cache) ----

const cacheRoot = `${root}.cache`;

/** `xsfleet.v1.cache.node.<node>`: get/set/delete requests to one cache node (its own subject: the ring picks the node). */
export function cacheNodeSubject(nodeId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) throw new Error(`cache node id must match [A-Za-z0-9_-]{1,64}, got ${JSON.stringify(nodeId)}`);
  return `${cacheRoot}.node.${nodeId}`;
}
/** `xsfleet.v1.cache.stats`: every cache node answers with its counters (JSON CacheServiceStats; `up`'s status line). */
export const cacheStatsSubject = `${cacheRoot}.stats`;
/** Every cache node's requests. */
export const allCacheSubject = `${cacheRoot}.>`;

// ---- cloud-node membership, recovery and the cluster API ----

const clusterRoot = `${root}.cluster`;

/** `xsfleet.v1.cluster.>`: membership, SWIM, presence events, recovery and assignments. */
export const allClusterSubject = `${clusterRoot}.>`;

/** Periodic heartbeat of one cloud node (JSON ClusterHeartbeat). */
export function heartbeatSubject(nodeId: string): string {
  return `${clusterRoot}.hb.${nodeId}`;
}
export const allHeartbeatsSubject = `${clusterRoot}.hb.*`;

/** SWIM messages addressed to one member (JSON SwimMessage). */
export function swimSubject(nodeId: string): string {
  return `${clusterRoot}.swim.${nodeId}`;
}

/** Presence change of `nodeId` as observed by some member. */
export function clusterEventSubject(nodeId: string, event: string): string {
  return `${clusterRoot}.events.${nodeId}.${event}`;
}

/** Recovery decisions and actions (failover, restart, replacement, restore). */
export function recoverySubject(kind: string): string {
  return `${clusterRoot}.recovery.${kind}`;
}
export const allRecoverySubject = `${clusterRoot}.recovery.>`;

/** Replacement: "start role R here" request to one node. */
export function assignSubject(nodeId: string): string {
  return `${clusterRoot}.assign.${nodeId}`;
}

/** Operator request/reply API of the cluster (plain JSON). */
export const ClusterApiSubject = Object.freeze({
  Members: apiSubject("cluster.members"),
  History: apiSubject("cluster.history"),
} as const);

/** The edge tier's request/reply API (plain JSON; docs/edge.md, "The edge.jobs API"). */
export const EdgeApiSubject = Object.freeze({
  Jobs: apiSubject("edge.jobs"),
} as const);

// ---- the Raft control plane ----

/** Service group every control-plane replica serves: `xsfleet.v1.control.<endpoint>`. */
export const controlSubjectRoot = `${root}.control`;

/** One replica's own group: `xsfleet.v1.control.node.<id>.<endpoint>`. */
export function controlNodeSubjectRoot(nodeId: number): string {
  return `${controlSubjectRoot}.node.${nodeId}`;
}

/** An endpoint on any replica, or on replica `nodeId` when it is > 0. */
export function controlSubject(endpoint: string, nodeId = 0): string {
  return `${nodeId > 0 ? controlNodeSubjectRoot(nodeId) : controlSubjectRoot}.${endpoint}`;
}

/** `xsfleet.v1.control.>`: the control plane's service, every replica and endpoint. */
export const allControlSubject = `${controlSubjectRoot}.>`;

const raftRoot = "xsfleet.raft";
/** `xsfleet.raft.>`: Raft messages of every group (the replicas' own traffic). */
export const allRaftSubject = `${raftRoot}.>`;

const raftGroupPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Raft messages to replica `nodeId` of `group`: `xsfleet.raft.<group>.<node>`. */
export function raftSubject(group: string, nodeId: number): string {
  if (!raftGroupPattern.test(group)) throw new Error(`raft group "${group}" must match ${raftGroupPattern}`);
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0 || nodeId > 0xffffffff) throw new Error(`raft node id must be 1..2^32-1, got ${nodeId}`);
  return `${raftRoot}.${group}.${nodeId}`;
}

// ---- the CASPaxos acceptors (cloud/paxos) ----

/**
 * Requests to acceptor `id` of `group`: `xsfleet.paxos.<group>.<id>`. Binary
 * frames (cloud/paxos/codec.ts); the reply subject is the proposer's inbox.
 */
export function paxosAcceptorSubject(group: string, id: number): string {
  if (!raftGroupPattern.test(group)) throw new Error(`paxos group "${group}" must match ${raftGroupPattern}`);
  if (!Number.isSafeInteger(id) || id <= 0 || id > 0xffff) throw new Error(`paxos acceptor id must be 1..65535, got ${id}`);
  return `xsfleet.paxos.${group}.${id}`;
}

/** Status of one acceptor as JSON request/reply: `xsfleet.v1.paxos.<group>.<id>.status`. */
export function paxosStatusSubject(group: string, id: number): string {
  paxosAcceptorSubject(group, id); // validates
  return `${root}.paxos.${group}.${id}.status`;
}

/** Every acceptor request subject (an acceptor process's subscribe permission). */
export const allPaxosAcceptorSubject = "xsfleet.paxos.>";
/** Every acceptor status subject. */
export const allPaxosStatusSubject = `${root}.paxos.*.*.status`;

/** Where acceptor `id` answers a proposer whose inbox is `inbox`: `<inbox>.<id>`. */
export function paxosReplySubject(inbox: string, id: number): string {
  return `${inbox}.${id}`;
}

/** What a proposer subscribes to for the answers of all acceptors: `<inbox>.*`. */
export function paxosRepliesSubject(inbox: string): string {
  return `${inbox}.*`;
}
