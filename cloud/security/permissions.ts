// Who may publish and subscribe to what: the one home of xsfleet's NATS
// permissions. The credential issuer signs exactly these lists into user
// JWTs, and docs/security.md's permission table is generated from them
// (`permissionTableMarkdown`, checked by test/cloud/security/permissions.test.ts).
//
// Principals: each device (MQTT only, bearer), each provisioning claim (MQTT
// only, bearer, two subjects), every cloud role, the control-plane
// replicas, the dashboard, the local stack's fleet tooling, integrators and
// the operator's CLI (admin). A cloud node running several roles connects
// as the union of its roles. Replies come back on a per-principal inbox
// (`_INBOX_<principal>.>`, cloud/nats inboxPrefixFor), so no principal can
// read another's replies (claim tokens travel in replies). Only the
// replicas touch Raft subjects; only registry clients reach the control
// plane's API.
import { Downlink, Uplink, deviceSubject } from "../../shared/topics";
import { CloudRole } from "../base";
import { alertStateBucket, checkpointBucket } from "../analytics";
import { commandsBucket } from "../commands";
import { IngestStream, ingestMirrorStreams, mqttMessagesStream } from "../ingest";
import { inboxPrefixFor } from "../nats";
import { BACKUP_CATALOG_BUCKET } from "../recovery";
import { registryBucket } from "../registry";
import { shadowBucket } from "../shadow";
import { deviceStateBucket } from "../state";
import {
  allCacheSubject, cacheStatsSubject, allClaimUsesSubject, allClusterSubject, allControlSubject, allDeviceEventsSubject, allDevicesSubject, allDlqSubject, allHeartbeatsSubject,
  allHistorySubject, allOutSubject, allOutTelemetrySubject, allPartitionedDevicesSubject, allProvisioningRequestsSubject, allRoutesOfUplinks, allRaftSubject,
  allPaxosAcceptorSubject, allPaxosStatusSubject, apiSubject, partitionedUplinkSubject, provisioningRequestSubject, provisioningResponseSubject,
  uplinkStream, analyticsStream, alertsStream, allWindowResultsSubject, allAlertsSubject, ruleEventSubject,
} from "../subjects";
import { ConnectionType, type Permissions } from "./jwt";
import { claimUsesStream, trustBucket } from "./names";

/** Every principal that gets a NATS user. */
export const Principal = Object.freeze({
  Device: "device",
  Claim: "claim",
  Ingest: CloudRole.Ingest,
  Api: CloudRole.Api,
  Commands: CloudRole.Commands,
  Orchestration: CloudRole.Orchestration,
  Provisioning: CloudRole.Provisioning,
  Analytics: CloudRole.Analytics,
  Cache: CloudRole.Cache,
  Control: "control",
  /** A CASPaxos acceptor process (cloud/paxos). */
  Consensus: "consensus",
  Dashboard: "dashboard",
  Fleet: "fleet",
  Integrator: "integrator",
  Admin: "admin",
} as const);
export type Principal = (typeof Principal)[keyof typeof Principal];

/** The users that authenticate with a creds file (nkey signature), not a bearer token. */
export const servicePrincipals = Object.freeze([
  Principal.Ingest, Principal.Api, Principal.Commands, Principal.Orchestration, Principal.Provisioning, Principal.Analytics, Principal.Cache,
  Principal.Control, Principal.Consensus, Principal.Dashboard, Principal.Fleet, Principal.Integrator, Principal.Admin,
] as const);
export type ServicePrincipal = (typeof servicePrincipals)[number];

export interface PrincipalPermissions extends Permissions {
  /** May answer requests it received (publish once to their reply subject). */
  responds: boolean;
  connectionTypes: ConnectionType[];
}

// ---- JetStream API subjects (nats-server 2.9 jsapi) ----

const jsInfo = "$JS.API.INFO";

function streamAdmin(s: string): string[] {
  return [`$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`, ...streamRead(s)];
}

function streamRead(s: string): string[] {
  return [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.MSG.GET.${s}`, `$JS.API.DIRECT.GET.${s}`, `$JS.API.DIRECT.GET.${s}.>`];
}

/** Consumers on one stream: create (durable or ephemeral, with filter), info, list, delete, pull, ack, flow control. */
function consumersOn(s: string): string[] {
  return [
    `$JS.API.CONSUMER.*.${s}`, `$JS.API.CONSUMER.*.${s}.>`, `$JS.API.CONSUMER.DURABLE.CREATE.${s}.*`,
    `$JS.API.CONSUMER.MSG.NEXT.${s}.*`, `$JS.ACK.${s}.>`, `$JS.FC.${s}.>`,
  ];
}

/** The stream listing and info calls a read-only monitor makes. */
const jsMonitor = [jsInfo, "$JS.API.STREAM.LIST", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.*", "$JS.API.CONSUMER.LIST.*", "$JS.API.CONSUMER.NAMES.*", "$JS.API.CONSUMER.INFO.*.*"];

/** A KV bucket: read and watch always; `write` adds puts/deletes; `admin` creating the bucket. */
function kvBucket(bucket: string, mode: "read" | "write" | "admin"): string[] {
  const stream = `KV_${bucket}`;
  return [
    ...(mode === "admin" ? streamAdmin(stream) : streamRead(stream)),
    ...consumersOn(stream),
    ...(mode === "read" ? [] : [`$KV.${bucket}.>`]),
  ];
}

/** Registry access: the control plane's API (control registry) or its KV bucket (kv registry). */
const registryClient = [allControlSubject, ...kvBucket(registryBucket, "admin")];

/** Micro-service discovery ($SRV.PING/INFO/STATS), served or asked. */
const srv = "$SRV.>";

const uplinkKinds = Object.values(Uplink);
const downlinkKinds = Object.values(Downlink);

/** Uplink subjects of every device, mapped (partitioned) and not (a role subscribing to uplinks sees either). */

function allDownlinks(kinds: readonly Downlink[]): string[] {
  return kinds.map((k) => allDevicesSubject(k));
}

// ---- the table ----

function role(pub: string[], sub: string[], responds: boolean): PrincipalPermissions {
  return { pub: { allow: pub }, sub: { allow: sub }, responds, connectionTypes: [ConnectionType.Standard] };
}

/** Permissions of one service principal (inbox included). */
export function principalPermissions(p: ServicePrincipal): PrincipalPermissions {
  const inbox = `${inboxPrefixFor(p)}.>`;
  switch (p) {
    case Principal.Ingest:
      // XSF_UP and its consumers (one per partition, the will relay's), the
      // MQTT message stream's size limit, outputs, relayed wills into their
      // partition, receipts to devices; partition leases and the ingest
      // membership on the control plane.
      return role([
        jsInfo,
        ...Object.values(IngestStream).flatMap((s) => [...streamAdmin(s), ...consumersOn(s)]),
        // mirrors of async / semi-sync history and out (created, deleted when the mode goes back to sync)
        ...ingestMirrorStreams.flatMap((s) => [...streamAdmin(s), `$JS.API.STREAM.DELETE.${s}`]),
        ...streamAdmin(mqttMessagesStream),
        ...kvBucket(deviceStateBucket, "admin"),
        // device shadow reports joined into the reported documents (the bucket is created by whichever of api/ingest starts first)
        ...kvBucket(shadowBucket, "admin"),
        allHistorySubject, allOutSubject, allDlqSubject, allDeviceEventsSubject,
        // wills relayed into their partition; receipts to devices; the control plane (partition leases);
        // the registry gate reads (and watches) the registry
        allPartitionedDevicesSubject(Uplink.Status), ...allDownlinks([Downlink.Receipt]), allControlSubject, ...kvBucket(registryBucket, "read"),
      ], [inbox], false);
    case Principal.Api:
      return role([
        jsInfo, ...registryClient, ...kvBucket(commandsBucket, "admin"), ...kvBucket(deviceStateBucket, "read"), ...kvBucket(shadowBucket, "admin"),
        ...streamRead(IngestStream.History), ...consumersOn(IngestStream.History),
        // analytics.windows / alerts.*: read the results and alerts, acknowledge alerts (cloud/analytics)
        ...streamRead(analyticsStream), ...consumersOn(analyticsStream), ...streamRead(alertsStream), ...consumersOn(alertsStream),
        ...kvBucket(alertStateBucket, "write"), allAlertsSubject,
        ...allDownlinks([Downlink.Command, Downlink.Config]), allDeviceEventsSubject,
        // decommission asks the provisioning role to revoke the device's credentials
        apiSubject("credentials.revoke"),
        // device state and registry reads go through the cache ring (cloud/cache)
        allCacheSubject,
      ], [
        inbox, srv, apiSubject("devices.>"), apiSubject("commands.>"), apiSubject("telemetry.>"), apiSubject("shadow.>"), apiSubject("mesh.>"),
        apiSubject("analytics.>"), apiSubject("alerts.>"), apiSubject("rules.>"),
        ...allRoutesOfUplinks([Uplink.Hello, Uplink.Status, Uplink.Heartbeat]), allDeviceEventsSubject,
      ], true);
    case Principal.Commands:
      // Command acks through its own durable consumer on XSF_UP (cloud/commands/ack-consumer.ts).
      return role([
        jsInfo, ...registryClient, ...kvBucket(commandsBucket, "admin"),
        `$JS.API.STREAM.INFO.${uplinkStream}`, ...consumersOn(uplinkStream),
        ...allDownlinks([Downlink.Command]), allDeviceEventsSubject,
      ], [inbox, ...allRoutesOfUplinks([Uplink.Hello, Uplink.Status])], false);
    case Principal.Orchestration:
      // Scheduled backups read every bucket and stream and keep their catalog in a KV bucket.
      // The edge scheduler reads device state and the registry, writes job fields into desired shadows (the
      // store publishes their shadow events; the api role's delta pusher sends them), answers edge.jobs.
      return role([
        allControlSubject, allClusterSubject, ...jsMonitor, ...streamRead("*"), ...consumersOn("*"), ...kvBucket(BACKUP_CATALOG_BUCKET, "admin"),
        ...kvBucket(deviceStateBucket, "read"), ...registryClient, ...kvBucket(shadowBucket, "admin"), allDeviceEventsSubject,
      ], [inbox, allClusterSubject, apiSubject("cluster.>"), apiSubject("edge.>")], true);
    case Principal.Analytics:
      // Its own consumers on XSF_UP (recreated at each takeover), the results and alerts streams, its
      // checkpoint and alert-state buckets, the control plane (partition leases, membership, rules),
      // and command actions through the commands bucket and downlink; rule events.
      return role([
        jsInfo, `$JS.API.STREAM.INFO.${uplinkStream}`, ...consumersOn(uplinkStream),
        ...streamAdmin(analyticsStream), ...streamAdmin(alertsStream), allWindowResultsSubject, allAlertsSubject, ruleEventSubject("*"),
        ...kvBucket(checkpointBucket, "admin"), ...kvBucket(alertStateBucket, "admin"), ...kvBucket(commandsBucket, "admin"),
        allControlSubject, ...allDownlinks([Downlink.Command]), allDeviceEventsSubject,
      ], [inbox, ...allRoutesOfUplinks([Uplink.Hello, Uplink.Status])], false);
    case Principal.Cache:
      // Serves its share of the ring (and asks the other nodes as a client); watches what it caches to invalidate it.
      return role([jsInfo, allCacheSubject, ...kvBucket(deviceStateBucket, "read"), ...kvBucket(registryBucket, "read")], [inbox, allCacheSubject], true);
    case Principal.Provisioning:
      return role([
        jsInfo, ...registryClient, ...kvBucket(trustBucket, "admin"),
        ...streamAdmin(claimUsesStream), allClaimUsesSubject, provisioningResponseSubject("*"),
      ], [
        inbox, srv, allProvisioningRequestsSubject, apiSubject("claims.>"), apiSubject("credentials.>"),
        allDeviceEventsSubject,
      ], true);
    case Principal.Control:
      return role([allRaftSubject], [inbox, srv, allRaftSubject, allControlSubject], true);
    case Principal.Consensus:
      // Answers proposers on their own inboxes (responds), nothing else.
      return role([], [inbox, allPaxosAcceptorSubject, allPaxosStatusSubject], true);
    case Principal.Dashboard:
      // Four API calls: edge jobs (topology), alerts and window results (read), and alerts.ack, the operator's one write.
      return role([
        ...jsMonitor, ...kvBucket(deviceStateBucket, "read"), ...streamRead(IngestStream.History), ...consumersOn(IngestStream.History), ...kvBucket(shadowBucket, "read"),
        apiSubject("edge.jobs"), // which device runs which edge job (read-only)
        apiSubject("alerts.list"), apiSubject("alerts.ack"), apiSubject("analytics.windows"), // the Alerts panel and the window chart
      ], [inbox, allHeartbeatsSubject, allDeviceEventsSubject, allAlertsSubject], false);
    case Principal.Fleet:
      return role([
        ...jsMonitor, ...kvBucket(deviceStateBucket, "read"), srv, apiSubject("devices.>"), apiSubject("claims.>"), apiSubject("cluster.>"),
        apiSubject("shadow.>"), apiSubject("rules.>"), apiSubject("edge.>"), cacheStatsSubject,
      ], [inbox, allOutTelemetrySubject, allAlertsSubject], false);
    case Principal.Integrator: {
      const p = role([
        jsInfo, srv, apiSubject(">"), ...streamRead(IngestStream.Out), ...consumersOn(IngestStream.Out),
        ...streamRead(IngestStream.History), ...consumersOn(IngestStream.History),
      ], [inbox, allOutSubject, allDeviceEventsSubject], false);
      // The management API without the trust endpoints: integrators read and command devices; they neither mint nor revoke credentials.
      p.pub.deny = [apiSubject("claims.>"), apiSubject("credentials.>")];
      return p;
    }
    case Principal.Admin:
      return role([...jsMonitor, ...kvBucket(deviceStateBucket, "read"), srv, apiSubject(">"), allPaxosStatusSubject, cacheStatsSubject], [inbox, allOutSubject, allDeviceEventsSubject], false);
  }
}

/** A cloud node running several roles connects as their union. */
export function rolesPermissions(roles: readonly CloudRole[]): PrincipalPermissions {
  const pub = new Set<string>();
  const sub = new Set<string>();
  let responds = false;
  for (const r of roles) {
    if (!isServicePrincipal(r)) throw new Error(`cloud role ${r} has no NATS permissions defined; add it to cloud/security/permissions.ts`);
    const p = principalPermissions(r);
    if (p.pub.deny?.length) throw new Error(`role ${r} has deny rules; a union of roles cannot keep them`);
    for (const s of p.pub.allow ?? []) pub.add(s);
    for (const s of p.sub.allow ?? []) if (!s.startsWith("_INBOX_")) sub.add(s);
    responds ||= p.responds;
  }
  sub.add(`${inboxPrefixFor(rolesPrincipalName(roles))}.>`);
  return { pub: { allow: [...pub].sort() }, sub: { allow: [...sub].sort() }, responds, connectionTypes: [ConnectionType.Standard] };
}

/** Fixed short codes of the roles, for role sets whose full name would pass the 64-character limit of principal names. */
const roleCodes: Readonly<Record<CloudRole, string>> = Object.freeze({
  ingest: "ing", api: "api", commands: "cmd", analytics: "anl", orchestration: "orc", provisioning: "prv", cache: "cch",
});

/** Longest principal name (user name and inbox token; docs/security.md). */
export const principalNameBytesMax = 64;

/** The user name (and inbox token) of a cloud node with these roles: "node-api-ingest-…" (sorted), or, when
 *  that would be longer than principalNameBytesMax (a node with most roles), the roles' short codes "node-api-cmd-…". */
export function rolesPrincipalName(roles: readonly CloudRole[]): string {
  const sorted = [...new Set(roles)].sort();
  const full = `node-${sorted.join("-")}`;
  return full.length <= principalNameBytesMax ? full : `node-${sorted.map((r) => roleCodes[r]).join("-")}`;
}

export function isServicePrincipal(v: string): v is ServicePrincipal {
  return (servicePrincipals as readonly string[]).includes(v);
}

/**
 * A device: publish its own uplinks — partitioned as the broker maps them
 * (`partitions` > 0, docs/delivery.md) or as published (`partitions` null) —
 * plus the unmapped status subject (nats-server 2.9 does not map the MQTT
 * will); subscribe to its own downlinks at QoS 0 (no `$MQTT.sub.>`, so a
 * QoS 1 subscription is refused: each would cost a JetStream consumer).
 */
export function devicePermissions(deviceId: string, partitions: number | null): PrincipalPermissions {
  const uplinks = uplinkKinds.map((k) => (partitions === null ? deviceSubject(deviceId, k) : partitionedUplinkSubject(deviceId, k, partitions)));
  const will = deviceSubject(deviceId, Uplink.Status);
  return {
    pub: { allow: [...new Set([...uplinks, will])] },
    sub: { allow: downlinkKinds.map((k) => deviceSubject(deviceId, k)) },
    responds: false,
    connectionTypes: [ConnectionType.Mqtt],
  };
}

/**
 * A gateway (docs/edge.md): its own device permissions plus, for every
 * child on its allow-list, the child's (publish its uplinks and will,
 * subscribe to its downlinks), because the gateway relays on the children's
 * own topics. Keyed by the allow-list the gateway's configuration (its `children` setting) carries:
 * a change to the list needs a new credential. At most `gatewayChildrenMax`
 * children (the firmware's own bound, firmware/edge/gateway.ts childrenLimit).
 */
export function gatewayPermissions(gatewayId: string, children: readonly string[], partitions: number | null): PrincipalPermissions {
  if (children.length > gatewayChildrenMax) throw new Error(`a gateway relays at most ${gatewayChildrenMax} children, got ${children.length}`);
  const all = [gatewayId, ...children].map((id) => devicePermissions(id, partitions));
  return {
    pub: { allow: [...new Set(all.flatMap((p) => p.pub?.allow ?? []))] },
    sub: { allow: [...new Set(all.flatMap((p) => p.sub?.allow ?? []))] },
    responds: false,
    connectionTypes: [ConnectionType.Mqtt],
  };
}

/** Children one gateway credential may cover. */
export const gatewayChildrenMax = 64;

/** Subscriptions a gateway connection may hold: its downlinks and its children's, plus slack. */
export function gatewaySubscriptionsMax(children: number): number {
  return deviceSubscriptionsMax * (1 + children);
}

/** A provisioning claim: ask on its request subject, read its response subject; nothing else. */
export function claimPermissions(claimId: string): PrincipalPermissions {
  return {
    pub: { allow: [provisioningRequestSubject(claimId)] },
    sub: { allow: [provisioningResponseSubject(claimId)] },
    responds: false,
    connectionTypes: [ConnectionType.Mqtt],
  };
}

/** Subscriptions a device or claim connection may hold (its downlinks, plus slack). */
export const deviceSubscriptionsMax = 8;

// ---- docs/security.md ----

const descriptions: Record<Principal, string> = {
  device: "one per device; bearer user JWT as the MQTT password; MQTT only",
  claim: "one per provisioning claim; bearer user JWT; MQTT only; revoked once used",
  ingest: "cloud role: XSF_UP partitions (owned through control-plane leases) into state, history, outputs, receipts, reported shadows",
  api: "cloud role: management API ($SRV service xsfleet-api)",
  commands: "cloud role: command delivery (retries, acks, expiry)",
  orchestration: "cloud role: membership, leases, recovery, cluster API, edge scheduling (edge.jobs)",
  provisioning: "cloud role: claims → device credentials, revocation (holds the signing keys)",
  analytics: "cloud role: windows, rules, alerts and actions over XSF_UP partitions (owned through control-plane leases), checkpoints",
  cache: "cloud role: a node of the distributed cache ring (docs/data-plane.md); watches the buckets it caches",
  control: "Raft control-plane replicas",
  consensus: "CASPaxos acceptor processes (answer proposers on their inboxes)",
  dashboard: "the web dashboard (reads; acknowledges alerts)",
  fleet: "the local stack's tooling: registers the simulated fleet, creates its claims, writes its example desired shadow and rules, watches status and alerts",
  integrator: "integrations: outputs, events, the management API without claims/credentials",
  admin: "the operator's CLI (`xsfleet claims`, `xsfleet credentials`, `xsfleet status`)",
};

function cell(list: readonly string[] | undefined): string {
  return (list ?? []).map((s) => `\`${s}\``).join(" ");
}

/** The permission table of docs/security.md, generated from the code above. */
export function permissionTableMarkdown(): string {
  const rows: string[] = ["| principal | what | publish | subscribe | answers requests |", "|---|---|---|---|---|"];
  const device = devicePermissions("<id>", 16);
  rows.push(`| device \`<id>\` (partitions P=16) | ${descriptions.device} | ${cell(device.pub.allow)} | ${cell(device.sub.allow)} | no |`);
  const claim = claimPermissions("<claimId>");
  rows.push(`| claim \`<claimId>\` | ${descriptions.claim} | ${cell(claim.pub.allow)} | ${cell(claim.sub.allow)} | no |`);
  for (const p of servicePrincipals) {
    const perm = principalPermissions(p);
    const deny = perm.pub.deny?.length ? ` — denied: ${cell(perm.pub.deny)}` : "";
    rows.push(`| ${p} | ${descriptions[p]} | ${cell(perm.pub.allow)}${deny} | ${cell(perm.sub.allow)} | ${perm.responds ? "yes" : "no"} |`);
  }
  return rows.join("\n") + "\n";
}
