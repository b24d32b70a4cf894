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
import type { ProposalTimes } from "./raft-node";

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

/** The span of one request served by this replica; `times` goes to RaftNode.propose. */
export interface ServeSpan {
  readonly times: ProposalTimes;
  /** Ends the span with the reply sent (and the proposal's steps, when it reached the log). */
  end(reply: unknown): void;
}

/** A server span for a traced request; null when the request carries no sampled context. */
export function startServeSpan(tracer: Tracer, endpoint: string, headers: ReadableHeaders | undefined, nodeId: number): ServeSpan | null {
  const parent = extractNatsHeaders(headers);
  if (!hasSpanContext(parent)) return null;
  // Wall-clock times throughout (the steps' times are Date.now() readings), so children nest exactly.
  const span = tracer.startSpan(SpanName.ControlServePrefix + endpoint, {
    kind: SpanKind.SERVER, startTime: Date.now(), attributes: { [Attr.ControlEndpoint]: endpoint, [Attr.RaftNode]: nodeId },
  }, parent);
  if (!span.isRecording()) {
    span.end();
    return null;
  }
  const ctx = trace.setSpan(parent, span);
  const times: ProposalTimes = { queuedMs: 0, appendedMs: 0, committedMs: 0, appliedMs: 0, index: 0, term: 0 };
  return {
    times,
    end(reply) {
      const outcome = outcomeOf(reply);
      span.setAttribute(Attr.ControlOutcome, outcome);
      if (times.index > 0) span.setAttributes({ [Attr.RaftIndex]: times.index, [Attr.RaftTerm]: times.term });
      // Each step that was reached, as a child with its real times.
      const step = (name: string, from: number, to: number): void => {
        if (from > 0 && to >= from) tracer.startSpan(name, { startTime: from }, ctx).end(to);
      };
      step(SpanName.RaftPropose, times.queuedMs, times.appendedMs);
      step(SpanName.RaftCommit, times.appendedMs, times.committedMs);
      step(SpanName.RaftApply, times.committedMs, times.appliedMs);
      // A redirect (not-leader) is the protocol working, not an error.
      if (outcome !== "ok" && outcome !== "not-leader") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      span.end(Date.now());
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
