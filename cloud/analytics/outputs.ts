// Where a partition's outputs go, in this order per batch: window results to
// XSF_ANALYTICS (`xsfleet.v1.analytics.<operator>.<key>.<channel>`, JSON
// WindowResultRecord, Nats-Msg-Id = windowResultId), then each alert
// transition (its event and its lifecycle record, alerts.ts) followed by its
// actions (actions.ts). Everything is awaited: the checkpoint after it
// covers only what is stored (partition-worker.ts).
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Context } from "@opentelemetry/api";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { injectNatsHeaders } from "../tracing";
import { windowResultId, type WindowResult } from "../../shared/stream";
import { windowResultSubject } from "../subjects";
import type { ActionRunner } from "./actions";
import type { AlertStore } from "./alerts";
import type { OutputSink } from "./partition-worker";
import type { ProcessorOutput } from "./processor";
import type { AnalyticsStats } from "./types";

/** A window result as published: the operator's id beside shared/stream's result. */
export type WindowResultRecord = WindowResult & { operator: string; id: string };

const enc = new TextEncoder();

export function resultRecord(operator: string, r: WindowResult): WindowResultRecord {
  return { ...r, operator, id: windowResultId(r) };
}

export class AnalyticsOutputs implements OutputSink {
  readonly #js: JetStreamClient;
  readonly #alerts: AlertStore;
  readonly #actions: ActionRunner;
  readonly #stats: AnalyticsStats;

  constructor(js: JetStreamClient, alerts: AlertStore, actions: ActionRunner, stats: AnalyticsStats) {
    this.#js = js;
    this.#alerts = alerts;
    this.#actions = actions;
    this.#stats = stats;
  }

  async emit(_partition: number, out: ProcessorOutput, trace?: Context): Promise<void> {
    // Traced: every message of the batch carries the batch span's context (one headers object each: publish may add to it).
    const headers = (): MsgHdrs | undefined => {
      if (!trace) return undefined;
      const h = natsHeaders();
      injectNatsHeaders(trace, h);
      return h;
    };
    await Promise.all(out.results.map(async ({ operator, result }) => {
      const rec = resultRecord(operator, result);
      const h = headers();
      const ack = await this.#js.publish(windowResultSubject(operator, result.key, result.channel), enc.encode(JSON.stringify(rec)), { msgID: rec.id, ...(h ? { headers: h } : {}) });
      if (ack.duplicate) this.#stats.resultsDuplicate++;
      else this.#stats.resultsPublished++;
    }));
    for (const t of out.transitions) {
      await this.#alerts.apply(t, this.#stats, headers());
      await this.#actions.run(t);
    }
  }
}
