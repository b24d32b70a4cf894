// Operator request/reply API (plain JSON), served by every node in one queue
// group so any live node answers:
//   xsfleet.v1.api.cluster.members  {}                          → { observer, atMs, members: MemberView[] }
//   xsfleet.v1.api.cluster.history  { afterId?, limit?, kind? } → { observer, entries: HistoryEntry[], dropped }
// Errors: { error: { code: "bad_request", message } }.
// Also shares history: each node publishes what it records on
// xsfleet.v1.cluster.recovery.<kind> and ingests what others record, so the
// answering node's history covers the cluster.

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { MembershipDriver } from "./driver";
import type { RecoveryHistory } from "./history";
import { allRecoverySubject, ClusterApiSubject, recoverySubject } from "../subjects";
import { HistoryKind, type HistoryEntry } from "./types";

export const CLUSTER_API_QUEUE = "xsfleet-cluster-api";
export const API_REQUEST_BYTES_MAX = 64 * 1024;
export const API_HISTORY_LIMIT_MAX = 1000;

export interface ClusterApiOptions {
  nc: NatsConnection;
  membership: MembershipDriver;
  history: RecoveryHistory;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

class BadRequest extends Error {}

function parseRequest(data: Uint8Array): Record<string, unknown> {
  if (data.byteLength === 0) return {};
  if (data.byteLength > API_REQUEST_BYTES_MAX) throw new BadRequest(`request of ${data.byteLength} bytes exceeds ${API_REQUEST_BYTES_MAX}`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(data));
  } catch {
    throw new BadRequest("request is not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new BadRequest("request must be a JSON object");
  return v as Record<string, unknown>;
}

function optInt(o: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) throw new BadRequest(`${name} must be an integer in ${min}..${max}`);
  return v;
}

export function historyQuery(o: Record<string, unknown>): { afterId?: number; limit?: number; kind?: HistoryKind } {
  const kinds: readonly string[] = Object.values(HistoryKind);
  if (o.kind !== undefined && (typeof o.kind !== "string" || !kinds.includes(o.kind))) throw new BadRequest(`kind must be one of ${kinds.join(", ")}`);
  const q: { afterId?: number; limit?: number; kind?: HistoryKind } = {};
  const afterId = optInt(o, "afterId", 0, Number.MAX_SAFE_INTEGER);
  const limit = optInt(o, "limit", 1, API_HISTORY_LIMIT_MAX);
  if (afterId !== undefined) q.afterId = afterId;
  if (limit !== undefined) q.limit = limit;
  if (o.kind !== undefined) q.kind = o.kind as HistoryKind;
  return q;
}

export class ClusterApi {
  readonly #o: ClusterApiOptions;
  readonly #subs: Subscription[] = [];
  #unlisten: (() => void) | undefined;

  constructor(opts: ClusterApiOptions) {
    this.#o = opts;
  }

  start(): void {
    const { nc, membership, history } = this.#o;
    const observer = membership.nodeId;
    this.#serve(ClusterApiSubject.Members, () => ({ observer, atMs: Date.now(), members: membership.members() }));
    this.#serve(ClusterApiSubject.History, (req) => ({ observer, entries: history.list(historyQuery(req)), dropped: history.dropped }));
    this.#unlisten = history.onRecord((e) => {
      if (e.recordedBy === observer && !nc.isClosed()) nc.publish(recoverySubject(e.kind), enc.encode(JSON.stringify(e)));
    });
    this.#subs.push(nc.subscribe(allRecoverySubject, {
      callback: (err, msg) => {
        if (err || msg.data.byteLength > API_REQUEST_BYTES_MAX) return;
        try {
          const e = JSON.parse(dec.decode(msg.data)) as HistoryEntry;
          if (typeof e.recordedBy === "string" && typeof e.originId === "number" && typeof e.atMs === "number") history.ingest(e);
        } catch {
          // Not a history entry: someone else's message on our subject; ignore.
        }
      },
    }));
  }

  stop(): void {
    this.#unlisten?.();
    for (const s of this.#subs) s.unsubscribe();
    this.#subs.length = 0;
  }

  #serve(subject: string, handle: (req: Record<string, unknown>) => unknown): void {
    this.#subs.push(this.#o.nc.subscribe(subject, {
      queue: CLUSTER_API_QUEUE,
      callback: (err, msg) => {
        if (err) return;
        let body: unknown;
        try {
          body = handle(parseRequest(msg.data));
        } catch (e) {
          if (!(e instanceof BadRequest)) throw e;
          body = { error: { code: "bad_request", message: e.message } };
        }
        msg.respond(enc.encode(JSON.stringify(body)));
      },
    }));
  }
}
