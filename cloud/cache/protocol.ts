// The wire of one cache node (xsfleet.v1.cache.node.<node>, request/reply):
// the operation and its arguments in NATS headers, the value as the raw
// body, so values are never re-encoded. Decoding is bounded and never
// throws at the caller: a malformed request gets an `error` reply.
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import { checkKey } from "./store";

export const CacheOp = Object.freeze({ Get: "get", Set: "set", Invalidate: "inv" } as const);
export type CacheOp = (typeof CacheOp)[keyof typeof CacheOp];

export const ReplyStatus = Object.freeze({
  Hit: "hit", Miss: "miss", Stored: "stored", Stale: "stale", TooLarge: "too_large", Done: "done", Error: "error",
} as const);
export type ReplyStatus = (typeof ReplyStatus)[keyof typeof ReplyStatus];

const H = { op: "Xsf-Cache-Op", key: "Xsf-Cache-Key", ttl: "Xsf-Cache-Ttl", ver: "Xsf-Cache-Ver", st: "Xsf-Cache-St", err: "Xsf-Cache-Err" } as const;

export type CacheRequest =
  | { op: typeof CacheOp.Get; key: string }
  | { op: typeof CacheOp.Set; key: string; ttlMs: number; version: number; value: Uint8Array }
  | { op: typeof CacheOp.Invalidate; key: string; version: number };

export interface CacheReply {
  status: ReplyStatus;
  version: number;
  value: Uint8Array;
  error?: string;
}

export function encodeRequest(r: CacheRequest): { h: MsgHdrs; body: Uint8Array } {
  const h = headers();
  h.set(H.op, r.op);
  h.set(H.key, r.key);
  if (r.op !== CacheOp.Get) h.set(H.ver, String(r.version));
  if (r.op === CacheOp.Set) h.set(H.ttl, String(r.ttlMs));
  return { h, body: r.op === CacheOp.Set ? r.value : new Uint8Array(0) };
}

function intHeader(h: MsgHdrs, name: string): number {
  const s = h.get(name);
  if (!/^\d{1,16}$/.test(s)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(s.slice(0, 20))}`);
  return Number(s);
}

/** The request, or an error message for a reply. */
export function decodeRequest(h: MsgHdrs | undefined, body: Uint8Array): CacheRequest | string {
  try {
    if (!h) return "no headers";
    const key = checkKey(h.get(H.key));
    const op = h.get(H.op);
    if (op === CacheOp.Get) return { op, key };
    if (op === CacheOp.Set) return { op, key, ttlMs: intHeader(h, H.ttl), version: intHeader(h, H.ver), value: body };
    if (op === CacheOp.Invalidate) return { op, key, version: intHeader(h, H.ver) };
    return `unknown op ${JSON.stringify(op.slice(0, 20))}`;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export function encodeReply(r: CacheReply): { h: MsgHdrs; body: Uint8Array } {
  const h = headers();
  h.set(H.st, r.status);
  h.set(H.ver, String(r.version));
  if (r.error) h.set(H.err, r.error.slice(0, 200));
  return { h, body: r.value };
}

export function decodeReply(h: MsgHdrs | undefined, body: Uint8Array): CacheReply {
  const st = h?.get(H.st) ?? "";
  if (!h || !(Object.values(ReplyStatus) as string[]).includes(st)) throw new Error(`cache node reply without a valid status (${JSON.stringify(st.slice(0, 20))})`);
  return { status: st as ReplyStatus, version: intHeader(h, H.ver), value: body, ...(h.get(H.err) ? { error: h.get(H.err) } : {}) };
}
