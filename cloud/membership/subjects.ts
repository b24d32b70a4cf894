// Subjects of cloud-node membership and the operator API. Node ids travel as
// one subject token, so they use the device-id alphabet (no '.', '*', '>').

export const clusterRoot = "xsfleet.v1.cluster";
export const nodeIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function assertNodeId(nodeId: string): string {
  if (!nodeIdPattern.test(nodeId)) {
    throw new Error(`invalid cloud node id ${JSON.stringify(nodeId)}: use 1-64 characters from A-Z a-z 0-9 _ -`);
  }
  return nodeId;
}

/** Periodic heartbeat of one cloud node (JSON `ClusterHeartbeat`). */
export function heartbeatSubject(nodeId: string): string {
  return `${clusterRoot}.hb.${nodeId}`;
}
export const allHeartbeatsSubject = `${clusterRoot}.hb.*`;

/** SWIM messages addressed to one member (JSON `SwimMessage`). */
export function swimSubject(nodeId: string): string {
  return `${clusterRoot}.swim.${nodeId}`;
}

export const ClusterEvent = {
  Up: "up",
  Suspect: "suspect",
  Down: "down",
} as const;
export type ClusterEvent = (typeof ClusterEvent)[keyof typeof ClusterEvent];

/** Presence change of `nodeId` as observed by some member. */
export function clusterEventSubject(nodeId: string, event: ClusterEvent): string {
  return `${clusterRoot}.events.${nodeId}.${event}`;
}
export const allClusterEventsSubject = `${clusterRoot}.events.>`;

/** Recovery decisions and actions (failover, restart, replacement, restore). */
export function recoverySubject(kind: string): string {
  return `${clusterRoot}.recovery.${kind}`;
}
export const allRecoverySubject = `${clusterRoot}.recovery.>`;

/** Replacement: "start role R here" request to one node. */
export function assignSubject(nodeId: string): string {
  return `${clusterRoot}.assign.${nodeId}`;
}

/** Operator request/reply API (plain JSON). */
export const ClusterApiSubject = {
  Members: "xsfleet.v1.api.cluster.members",
  History: "xsfleet.v1.api.cluster.history",
  Devices: "xsfleet.v1.api.cluster.devices",
} as const;
