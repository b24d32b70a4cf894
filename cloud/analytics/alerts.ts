// The alert lifecycle, one record per (rule, key, episode) in the KV bucket
// XSF_ALERT_STATE, and its events on XSF_ALERTS (`xsfleet.v1.alerts.<rule>.<key>`).
// The rule engine (shared/stream) decides raise and clear; this file keeps
// the record and adds the operator's acknowledgement:
//   raised (create: a replay or a second node finds it and changes nothing)
//   → acknowledged (API, compare-and-set; refused once cleared)
//   → cleared (compare-and-set, keeps who acknowledged).
// Every event carries an id that is its Nats-Msg-Id (a transition's id, or
// `<raise id>-ack`), so republishing after a takeover is dropped by the stream.
import type { MsgHdrs } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { AlertTransition } from "../../shared/stream";
import { isCasConflict } from "../nats";
import { alertSubject } from "../subjects";
import { AlertState, type AlertEvent, type AlertRecord, type AnalyticsStats } from "./types";

/** Most alerts a list returns. */
export const alertsListMax = 1_000;
const casAttemptsMax = 8;
const enc = new TextEncoder();
const dec = new TextDecoder();
const plainKey = /^[A-Za-z0-9_-]{1,64}$/;

/** A KV key token: plain ids as they are, anything else as `=` + hex of its UTF-8. */
function kvToken(s: string): string {
  if (plainKey.test(s)) return s;
  let hex = "=";
  for (const b of enc.encode(s)) hex += b.toString(16).padStart(2, "0");
  return hex;
}

export function alertKey(ruleId: string, key: string, episode: number): string {
  return `${kvToken(ruleId)}.${kvToken(key)}.${episode}`;
}

export class AlertError extends Error {
  constructor(readonly code: "not_found" | "conflict" | "invalid", message: string) {
    super(message);
  }
}

export class AlertStore {
  readonly #kv: KV;
  readonly #js: JetStreamClient;

  constructor(kv: KV, js: JetStreamClient) {
    this.#kv = kv;
    this.#js = js;
  }

  async get(ruleId: string, key: string, episode: number): Promise<{ record: AlertRecord; revision: number } | null> {
    const e = await this.#kv.get(alertKey(ruleId, key, episode));
    if (!e || e.operation !== "PUT" || e.value.byteLength === 0) return null;
    return { record: JSON.parse(dec.decode(e.value)) as AlertRecord, revision: e.revision };
  }

  /** Publishes the transition's event (deduplicated by its id) and moves the record. */
  /** `headers`: trace context of the batch that made the transition (absent: tracing off). */
  async apply(t: AlertTransition, stats: AnalyticsStats, headers?: MsgHdrs): Promise<void> {
    const ev: AlertEvent = {
      id: t.id, ruleId: t.ruleId, key: t.key, episode: t.episode, state: t.state === "raised" ? AlertState.Raised : AlertState.Cleared,
      t: t.t, reason: t.reason, ...(t.value !== undefined ? { value: t.value } : {}),
    };
    const ack = await this.#js.publish(alertSubject(t.ruleId, t.key), enc.encode(JSON.stringify(ev)), { msgID: t.id, ...(headers ? { headers } : {}) });
    if (ack.duplicate) stats.transitionsDuplicate++;
    else stats.transitionsPublished++;
    const k = alertKey(t.ruleId, t.key, t.episode);
    if (t.state === "raised") {
      const rec: AlertRecord = {
        ruleId: t.ruleId, key: t.key, episode: t.episode, state: AlertState.Raised, reason: t.reason, raisedAtMs: t.t, raiseId: t.id,
        ...(t.value !== undefined ? { value: t.value } : {}),
      };
      try {
        await this.#kv.create(k, enc.encode(JSON.stringify(rec)));
        stats.alertsRaised++;
      } catch (e) {
        if (!isCasConflict(e) && !/exists|wrong last sequence/i.test(String(e))) throw e;
      }
      return;
    }
    for (let i = 0; i < casAttemptsMax; i++) {
      const cur = await this.get(t.ruleId, t.key, t.episode);
      if (cur && cur.record.state === AlertState.Cleared) return;
      const base: AlertRecord = cur?.record ?? { ruleId: t.ruleId, key: t.key, episode: t.episode, state: AlertState.Raised, reason: t.reason, raisedAtMs: t.t, raiseId: "" };
      const rec: AlertRecord = { ...base, state: AlertState.Cleared, clearedAtMs: t.t, clearId: t.id };
      try {
        if (cur) await this.#kv.update(k, enc.encode(JSON.stringify(rec)), cur.revision);
        else await this.#kv.create(k, enc.encode(JSON.stringify(rec)));
        stats.alertsCleared++;
        return;
      } catch (e) {
        if (!isCasConflict(e) && !/exists|wrong last sequence/i.test(String(e))) throw e;
      }
    }
    throw new Error(`alert ${k}: ${casAttemptsMax} compare-and-set conflicts in a row`);
  }

  /** The operator's acknowledgement of a raised alert (idempotent; refused once cleared). */
  async ack(ruleId: string, key: string, episode: number, by: string, nowMs: number): Promise<AlertRecord> {
    for (let i = 0; i < casAttemptsMax; i++) {
      const cur = await this.get(ruleId, key, episode);
      if (!cur) throw new AlertError("not_found", `no alert for rule ${JSON.stringify(ruleId)}, key ${JSON.stringify(key)}, episode ${episode}`);
      if (cur.record.state === AlertState.Acknowledged) return cur.record;
      if (cur.record.state === AlertState.Cleared) throw new AlertError("conflict", `the alert was cleared at ${new Date(cur.record.clearedAtMs ?? 0).toISOString()}; nothing to acknowledge`);
      const rec: AlertRecord = { ...cur.record, state: AlertState.Acknowledged, ackedAtMs: nowMs, ackedBy: by };
      try {
        await this.#kv.update(alertKey(ruleId, key, episode), enc.encode(JSON.stringify(rec)), cur.revision);
      } catch (e) {
        if (isCasConflict(e) || /wrong last sequence/i.test(String(e))) continue;
        throw e;
      }
      const ev: AlertEvent = { id: `${rec.raiseId}-ack`, ruleId, key, episode, state: AlertState.Acknowledged, t: nowMs, reason: rec.reason, by };
      await this.#js.publish(alertSubject(ruleId, key), enc.encode(JSON.stringify(ev)), { msgID: ev.id });
      return rec;
    }
    throw new AlertError("conflict", "the alert changed concurrently; retry");
  }

  /** Alerts, newest first, optionally only those in `state` (the bucket keeps every episode). */
  async list(filter: { state?: AlertState; ruleId?: string; limit?: number } = {}): Promise<AlertRecord[]> {
    const limit = Math.min(filter.limit ?? 100, alertsListMax);
    const out: AlertRecord[] = [];
    const keys = await this.#kv.keys(filter.ruleId !== undefined ? `${kvToken(filter.ruleId)}.>` : ">");
    for await (const k of keys) {
      const e = await this.#kv.get(k);
      if (!e || e.operation !== "PUT" || e.value.byteLength === 0) continue;
      const r = JSON.parse(dec.decode(e.value)) as AlertRecord;
      if (filter.state === undefined || r.state === filter.state) out.push(r);
    }
    out.sort((a, b) => b.raisedAtMs - a.raisedAtMs || (a.ruleId < b.ruleId ? -1 : 1));
    return out.slice(0, limit);
  }
}
