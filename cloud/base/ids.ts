// Identifiers that travel as NATS subject tokens or in headers, and W3C
// trace context for messages the cloud originates.
import { randomBytes } from "node:crypto";
import { formatTraceparent, traceFlagSampled } from "../../shared/trace-context";

/** Cloud node ids use the device-id alphabet: one subject token, no '.', '*', '>'. */
export const nodeIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function isNodeId(nodeId: string): boolean {
  return nodeIdPattern.test(nodeId);
}

export function assertNodeId(nodeId: string): string {
  if (!isNodeId(nodeId)) {
    throw new Error(`invalid cloud node id ${JSON.stringify(nodeId)}: use 1-64 characters from A-Z a-z 0-9 _ -`);
  }
  return nodeId;
}

/** A fresh W3C traceparent (version 00, sampled) for a message the cloud starts. */
export function newTraceparent(): string {
  // 2^-128 / 2^-64: an all-zero id (invalid) is not worth a loop.
  return formatTraceparent(randomBytes(16).toString("hex"), randomBytes(8).toString("hex"), traceFlagSampled);
}
