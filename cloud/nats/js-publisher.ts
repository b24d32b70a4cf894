// JetStream publishes awaiting their PubAck over one reply subscription per
// connection (as nats.go's PublishAsync does), for hot paths that publish
// per message (ingest's history records). nats.js makes every publish a
// request: a mux entry under a random token, a timer, and an Error built on
// every completion; in a CPU profile of ingest those were ~15 % of its time
// (docs/performance.md). Here a publish is one core publish with a reply
// subject `<inbox>.<n>`, a map entry, and one sweep timer for all timeouts.
//
// Contract: publish() resolves only with a PubAck the stream sent (stored,
// or a duplicate of a stored Nats-Msg-Id); it rejects on an API error, no
// responders (no stream), a timeout (`timeoutMs`, checked every
// sweepIntervalMs) or close(). A rejected publish may still have been stored
// (as with any timed-out request): callers republish with the same msg id.
// At most pendingMax publishes wait at once (beyond that: rejected at once).
import { createInbox, headers as newHeaders, type MsgHdrs, type NatsConnection, type Msg, type Subscription } from "@nats-io/transport-node";
import type { PubAck } from "@nats-io/jetstream";

/** How often waiting publishes are checked for their timeout. */
export const sweepIntervalMs = 250;

export interface JsPublishOptions {
  /** Nats-Msg-Id: the stream drops a republish within its duplicate window. */
  msgID?: string;
  /** Nats-Expected-Last-Subject-Sequence: stored only if the subject's last
   *  message is at this sequence (0: none yet). A KV compare-and-set. */
  expectedLastSubjectSequence?: number;
  headers?: MsgHdrs;
}

/** The stream refused a publish: `code` is JetStream's err_code (10071: wrong last sequence). */
export class JsPublishError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
    this.name = "JsPublishError";
  }
}

interface Waiting {
  resolve(a: PubAck): void;
  reject(e: Error): void;
  deadlineMs: number;
}

export class JsPublisher {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #waiting = new Map<number, Waiting>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #next = 1;
  #closed = false;

  constructor(nc: NatsConnection, readonly timeoutMs: number, readonly pendingMax = 100_000) {
    if (!(timeoutMs > 0)) throw new Error(`JsPublisher timeoutMs must be > 0, got ${timeoutMs}`);
    this.#nc = nc;
    // The connection's own inbox prefix: a user may subscribe only to its own inbox.
    const prefix = (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
    this.#prefix = `${createInbox(prefix)}.`;
    this.#sub = nc.subscribe(`${this.#prefix}*`, { callback: (err, m) => { if (!err) this.#reply(m); } });
    this.#sweep = setInterval(() => this.#expire(Date.now()), sweepIntervalMs);
    this.#sweep.unref?.();
  }

  get pending(): number {
    return this.#waiting.size;
  }

  publish(subject: string, data: Uint8Array, opts: JsPublishOptions = {}): Promise<PubAck> {
    if (this.#closed) return Promise.reject(new Error("JsPublisher closed"));
    if (this.#waiting.size >= this.pendingMax) return Promise.reject(new Error(`JsPublisher: ${this.pendingMax} publishes awaiting their ack`));
    let h = opts.headers;
    if (opts.msgID !== undefined) {
      h ??= newHeaders();
      h.set("Nats-Msg-Id", opts.msgID);
    }
    if (opts.expectedLastSubjectSequence !== undefined) {
      h ??= newHeaders();
      h.set("Nats-Expected-Last-Subject-Sequence", String(opts.expectedLastSubjectSequence));
    }
    const id = this.#next++;
    return new Promise<PubAck>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject, deadlineMs: Date.now() + this.timeoutMs });
      try {
        this.#nc.publish(subject, data, { reply: `${this.#prefix}${id}`, ...(h ? { headers: h } : {}) });
      } catch (err) {
        this.#waiting.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Rejects what waits and stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#sub.unsubscribe();
    const err = new Error("JsPublisher closed");
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }

  #reply(m: Msg): void {
    const id = Number(m.subject.slice(this.#prefix.length));
    const w = this.#waiting.get(id);
    if (!w) return; // timed out already
    this.#waiting.delete(id);
    const r = parsePubAck(m);
    if (r instanceof Error) w.reject(r);
    else w.resolve(r);
  }

  #expire(nowMs: number): void {
    for (const [id, w] of this.#waiting) {
      if (w.deadlineMs > nowMs) continue;
      this.#waiting.delete(id);
      w.reject(new Error(`JetStream publish: no ack within ${this.timeoutMs} ms`));
    }
  }
}

/** The PubAck in a reply, or why there is none. */
export function parsePubAck(m: Pick<Msg, "data" | "headers">): PubAck | Error {
  if (m.data.length === 0) {
    const code = m.headers?.code ?? 0;
    return new Error(code === 503 ? "JetStream publish: no responders (no stream for the subject)" : `JetStream publish: empty reply (status ${code})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(m.data));
  } catch {
    return new Error("JetStream publish: reply is not JSON");
  }
  const o = v as { stream?: unknown; seq?: unknown; duplicate?: unknown; domain?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } };
  if (o.error) {
    const code = typeof o.error.err_code === "number" ? o.error.err_code : typeof o.error.code === "number" ? o.error.code : 0;
    return new JsPublishError(`JetStream publish: ${String(o.error.description ?? "error")} (${code || "?"})`, code);
  }
  if (typeof o.stream !== "string" || o.stream === "" || typeof o.seq !== "number") return new Error("JetStream publish: invalid ack");
  return { stream: o.stream, seq: o.seq, duplicate: o.duplicate === true, domain: typeof o.domain === "string" ? o.domain : "" } as PubAck;
}
