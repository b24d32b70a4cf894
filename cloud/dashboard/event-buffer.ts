// The recent-events ring: assigns ids, bounds every field, and answers
// "what happened after id N" for SSE reconnects (Last-Event-ID). Pure.
import type { DashboardEvent, DashboardEventInput } from "./types";

export const eventKindBytesMax = 64;
export const eventSummaryBytesMax = 240;

export class EventBuffer {
  readonly #max: number;
  readonly #detailBytesMax: number;
  /** Oldest first. Invariant: #events.length <= #max, ids strictly increasing. */
  #events: DashboardEvent[] = [];
  #nextId = 1;
  #dropped = 0;

  constructor(eventBufferMax: number, eventDetailBytesMax: number) {
    if (!Number.isInteger(eventBufferMax) || eventBufferMax < 1) throw new Error(`eventBufferMax must be >= 1, got ${eventBufferMax}`);
    this.#max = eventBufferMax;
    this.#detailBytesMax = eventDetailBytesMax;
  }

  /** Events pushed out of the ring by newer ones. */
  get dropped(): number {
    return this.#dropped;
  }

  get size(): number {
    return this.#events.length;
  }

  /** Stores a bounded copy of the input and returns it with its id. */
  push(input: DashboardEventInput): DashboardEvent {
    const event: DashboardEvent = {
      id: this.#nextId++,
      timeMs: Number.isFinite(input.timeMs) ? input.timeMs : 0,
      kind: String(input.kind).slice(0, eventKindBytesMax),
      deviceId: String(input.deviceId ?? "").slice(0, 64),
      summary: String(input.summary ?? "").slice(0, eventSummaryBytesMax),
    };
    if (input.detail !== undefined) event.detail = this.#boundDetail(input.detail);
    if (this.#events.length >= this.#max) {
      this.#events.shift();
      this.#dropped++;
    }
    this.#events.push(event);
    return event;
  }

  /** Events with id > afterId, oldest first (all kept ones when afterId is 0).
   *  An id this buffer never issued (the server restarted, ids began again)
   *  also gets everything kept, rather than nothing. */
  since(afterId: number): DashboardEvent[] {
    if (afterId >= this.#nextId) afterId = 0;
    const i = this.#events.findIndex((e) => e.id > afterId);
    return i < 0 ? [] : this.#events.slice(i);
  }

  #boundDetail(detail: unknown): unknown {
    let text: string | undefined;
    try {
      text = JSON.stringify(detail);
    } catch {
      return { omitted: "detail is not JSON-serializable" };
    }
    if (text === undefined) return undefined;
    if (text.length > this.#detailBytesMax) return { omitted: `detail of ${text.length} characters exceeds ${this.#detailBytesMax}` };
    return JSON.parse(text) as unknown;
  }
}
