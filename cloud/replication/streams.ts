// The JetStream side of a plan (modes.ts): the primary stream's replicas and
// description, and the mirror stream of the async and semi-sync modes, put
// on another server than the primary's by its placement tag (nats-server
// 2.9 places by tags only; every server `xsfleet up` and the tests start
// carries `xsf-server:<name>`, cloud/infra). A cluster whose servers carry
// no such tags gets the mirror wherever the server puts it (then maybe on
// the primary's server: the status shows the mirror's server). Idempotent
// and safe from several nodes: an existing mirror is kept.
import {
  DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig, type StreamInfo,
} from "@nats-io/jetstream";
import { serverPlacementTag } from "../infra";
import { mirrorStreamName, replicationDescription, type ReplicationPlan } from "./modes";

export type StreamSpec = Partial<StreamConfig> & { name: string };

/** The primary's config under `plan`: replicas and the description that names the mode. */
export function applyPlan(cfg: StreamSpec, plan: ReplicationPlan): StreamSpec {
  return { ...cfg, num_replicas: plan.primaryReplicas, description: replicationDescription(plan) };
}

/** The servers of a cluster as one replicated stream's info lists them (leader and peers), sorted. */
export function clusterServers(info: StreamInfo): string[] {
  const c = info.cluster;
  if (!c) return [];
  return [...new Set([c.leader ?? "", ...(c.replicas ?? []).map((r) => r.name)].filter((n) => n !== ""))].sort();
}

async function infoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  }
}

/** JetStream API error: no server matches the placement. */
const insufficientResources = 10005;
const noSuitablePeers = 10074;

/**
 * Creates the mirror of `primary` when the plan has one (on the first of
 * `servers` that does not hold the primary), deletes a mirror the plan no
 * longer has. Returns the mirror's server (null: no mirror).
 */
export async function ensureMirror(jsm: JetStreamManager, primary: StreamSpec, plan: ReplicationPlan, servers: readonly string[]): Promise<string | null> {
  const name = mirrorStreamName(primary.name);
  const have = await infoOrNull(jsm, name);
  if (!plan.mirror) {
    if (have) await jsm.streams.delete(name).catch(() => false);
    return null;
  }
  if (have) return have.cluster?.leader ?? null;
  const p = await jsm.streams.info(primary.name);
  const target = servers.find((s) => s !== p.cluster?.leader) ?? null;
  const cfg: StreamSpec = {
    name,
    description: `mirror of ${primary.name}; ${replicationDescription(plan)}`,
    mirror: { name: primary.name },
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: 1,
    discard: DiscardPolicy.Old,
    ...(primary.max_bytes !== undefined ? { max_bytes: primary.max_bytes } : {}),
    ...(primary.max_age !== undefined ? { max_age: primary.max_age } : {}),
    ...(primary.max_msg_size !== undefined ? { max_msg_size: primary.max_msg_size } : {}),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const withPlacement = target ? { ...cfg, placement: { cluster: p.cluster?.name ?? "", tags: [serverPlacementTag(target)] } } : cfg;
      const info = await jsm.streams.add(withPlacement).catch(async (err: unknown) => {
        // Servers without our tags: let the server place it.
        if (err instanceof JetStreamApiError && (err.code === insufficientResources || err.code === noSuitablePeers)) return jsm.streams.add(cfg);
        throw err;
      });
      return info.cluster?.leader ?? null;
    } catch (err) {
      // Another node created it meanwhile.
      const again = await infoOrNull(jsm, name);
      if (again) return again.cluster?.leader ?? null;
      if (attempt >= 2) throw new Error(`ensuring mirror ${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
