// A cache node's request handling (no network: the handler the NATS
// subscription calls): bad requests get a clear error reply and are
// counted, values of a namespace whose invalidation watch is not live are
// not stored.
import { describe, expect, it } from "vitest";
import { headers } from "@nats-io/transport-node";
import { CacheNode, CacheStore } from "../../../cloud/cache";
import { CacheOp, ReplyStatus, encodeRequest } from "../../../cloud/cache/protocol";

const noConn = [{} as never];

describe("cache node request handling", () => {
  it("answers get, set and invalidate through the store", () => {
    const node = new CacheNode({ conns: noConn, nodeId: "n1", store: new CacheStore(), view: null, nowMs: () => 0 });
    const set = encodeRequest({ op: CacheOp.Set, key: "state:d1", ttlMs: 1000, version: 4, value: new TextEncoder().encode("v") });
    expect(node.handle(set.h, set.body).status).toBe(ReplyStatus.Stored);
    const get = encodeRequest({ op: CacheOp.Get, key: "state:d1" });
    expect(node.handle(get.h, get.body)).toMatchObject({ status: ReplyStatus.Hit, version: 4 });
    const inv = encodeRequest({ op: CacheOp.Invalidate, key: "state:d1", version: 5 });
    expect(node.handle(inv.h, inv.body).status).toBe(ReplyStatus.Done);
    expect(node.handle(get.h, get.body).status).toBe(ReplyStatus.Miss);
    expect(node.handle(set.h, set.body).status).toBe(ReplyStatus.Stale);
  });

  it("refuses malformed requests with an error reply, counted, never a crash", () => {
    const node = new CacheNode({ conns: noConn, nodeId: "n1", store: new CacheStore(), view: null });
    const h = (kv: Record<string, string>) => { const x = headers(); for (const [k, v] of Object.entries(kv)) x.set(k, v); return x; };
    const cases = [
      node.handle(undefined, new Uint8Array(0)),
      node.handle(h({ "Xsf-Cache-Op": "get" }), new Uint8Array(0)),
      node.handle(h({ "Xsf-Cache-Op": "zap", "Xsf-Cache-Key": "k" }), new Uint8Array(0)),
      node.handle(h({ "Xsf-Cache-Op": "set", "Xsf-Cache-Key": "k", "Xsf-Cache-Ttl": "-5", "Xsf-Cache-Ver": "1" }), new Uint8Array(0)),
      node.handle(h({ "Xsf-Cache-Op": "set", "Xsf-Cache-Key": "k", "Xsf-Cache-Ttl": "0", "Xsf-Cache-Ver": "1" }), new Uint8Array(0)),
    ];
    for (const r of cases) expect(r.status).toBe(ReplyStatus.Error);
    expect(cases.map((r) => r.error)).toEqual([
      "no headers", expect.stringMatching(/cache key/), expect.stringMatching(/unknown op/), expect.stringMatching(/Xsf-Cache-Ttl must be a non-negative integer/), expect.stringMatching(/ttlMs must be/),
    ]);
    expect(node.stats.badRequests).toBe(5);
  });

  it("does not store a value its invalidation watch could not invalidate (watch not live)", () => {
    let live = false;
    const node = new CacheNode({ conns: noConn, nodeId: "n1", store: new CacheStore(), view: null, accepts: () => live });
    const set = encodeRequest({ op: CacheOp.Set, key: "state:d1", ttlMs: 1000, version: 1, value: new Uint8Array(1) });
    expect(node.handle(set.h, set.body).status).toBe(ReplyStatus.Stale);
    live = true;
    expect(node.handle(set.h, set.body).status).toBe(ReplyStatus.Stored);
  });
});
