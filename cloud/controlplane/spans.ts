// The span of one control-plane call (`control.<endpoint>`, kind client):
// a Raft proposal (or ReadIndex read) with its redirects and retries, child
// of whatever span is active — an API request proposing a registry write
// shows the proposal inside it. The request carries the span's context in
// its NATS headers.
//
// On the replica that serves it (`controlplane.<endpoint>`, kind server),
// child of that client span: a write's steps on the leader as children —
// raft.propose (waiting for the Raft loop) → raft.commit (WAL fsync and a
// quorum's acks) → raft.apply (the state machine). Only requests that carry
// a trace context get spans: the untraced traffic (leases, heartbeats of
// processes without tracing) would otherwise be a root trace each.
import { context, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from "@opentelemetry/api";
import { Attr, extractNatsHeaders, hasSpanContext, SpanName, type ReadableHeaders } from "../tracing";
import { performance } from "node:perf_hooks";
import type { ProposalClock } from "./stage-timings";

export async function withControlSpan<T>(tracer: Tracer, endpoint: string, retries: () => number, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const parent = context.active();
  const span = tracer.startSpan(SpanName.ControlPrefix + endpoint, { kind: SpanKind.CLIENT, attributes: { [Attr.ControlEndpoint]: endpoint } }, parent);
  const before = retries();
  try {
    return await fn(trace.setSpan(parent, span));
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    span.setAttribute(Attr.ControlRetries, retries() - before);
    span.end();
  }
}

/** The span of one request served by this replica. */
export interface ServeSpan {
  /** Ends the span with the reply sent (and the proposal's steps, when it reached the log). */
  end(reply: unknown): void;
}

/**
 * A server span for a traced request; null when the request carries no
 * sampled context. `clock` is the request's stage clock (stage-timings.ts),
 * which RaftNode.propose fills in: the span and its steps take their times
 * from it, one monotonic clock, so the children nest exactly.
 */
export function startServeSpan(tracer: Tracer, endpoint: string, headers: ReadableHeaders | undefined, nodeId: number, clock: ProposalClock): ServeSpan | null {
  const parent = extractNatsHeaders(headers);
  if (!hasSpanContext(parent)) return null;
  const wall = (t: number): number => performance.timeOrigin + t;
  const span = tracer.startSpan(SpanName.ControlServePrefix + endpoint, {
    kind: SpanKind.SERVER, startTime: wall(clock.receivedAt), attributes: { [Attr.ControlEndpoint]: endpoint, [Attr.RaftNode]: nodeId },
  }, parent);
  if (!span.isRecording()) {
    span.end();
    return null;
  }
  const ctx = trace.setSpan(parent, span);
  return {
    end(reply) {
      const outcome = outcomeOf(reply);
      span.setAttribute(Attr.ControlOutcome, outcome);
      if (clock.index > 0) span.setAttributes({ [Attr.RaftIndex]: clock.index, [Attr.RaftTerm]: clock.term });
      // Each step that was reached, as a child with its real times.
      const step = (name: string, from: number, to: number): void => {
        if (from > 0 && to >= from) tracer.startSpan(name, { startTime: wall(from) }, ctx).end(wall(to));
      };
      step(SpanName.RaftPropose, clock.queuedAt, clock.steppedAt);
      step(SpanName.RaftCommit, clock.steppedAt, clock.committedAt);
      step(SpanName.RaftApply, clock.committedAt, clock.appliedAt);
      // A redirect (not-leader) is the protocol working, not an error.
      if (outcome !== "ok" && outcome !== "not-leader") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      span.end(wall(performance.now()));
    },
  };
}

/** "ok", or the failure code of a node failure or a state-machine result. */
function outcomeOf(reply: unknown): string {
  if (typeof reply !== "object" || reply === null) return "ok";
  const r = reply as { ok?: unknown; code?: unknown; error?: unknown };
  if (r.ok !== false) return "ok";
  if (typeof r.code === "string") return r.code;
  if (typeof r.error === "string") return r.error;
  return "error";
}
