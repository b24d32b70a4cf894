// Writer ids (DVV dot issuers) of the shadow's writers. Each writing process
// needs its own id (docs/shadow.md): two processes issuing dots under one id
// could issue the same dot twice.
import { dvvWriterIdPattern } from "../../shared/clock/dvv";

/** The writer id of an API node: `api-<nodeId>`. */
export function apiShadowWriter(nodeId: string): string {
  const w = `api-${nodeId}`;
  if (!dvvWriterIdPattern.test(w)) throw new Error(`node id ${JSON.stringify(nodeId)} gives no valid shadow writer id (${dvvWriterIdPattern}); use a node id of at most 60 characters`);
  return w;
}

/** The device's own writer id for its reported document. */
export const deviceShadowWriter = "dev";

/** A gateway writing a child's shadow: `gw-<gatewayId>`. */
export function gatewayShadowWriter(gatewayId: string): string {
  const w = `gw-${gatewayId}`;
  if (!dvvWriterIdPattern.test(w)) throw new Error(`gateway id ${JSON.stringify(gatewayId)} gives no valid shadow writer id`);
  return w;
}
