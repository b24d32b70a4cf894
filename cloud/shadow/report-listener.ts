// Takes device shadow reports off heartbeats (docs/shadow.md, "Wire"): a
// queue subscription on every device's heartbeat subject; an envelope that
// carries `shadow_report` is joined into the device's reported document
// under this node's own writer key (`api-<nodeId>`), so no two processes
// ever write one key (nats-server 2.9.10's KV compare-and-set cannot
// arbitrate between writers on R3; research C3).
//
// At most once: core NATS, one node per message, not acknowledged. That is
// enough because reports are joins and the device sends its whole reported
// document every few heartbeats (firmware/device/shadow.ts), so a report
// lost here is repaired by a later one. Bounded: at most `inflightMax`
// merges at once, more reports are dropped and counted (repaired likewise);
// malformed envelopes or reports are counted, never retried.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeEnvelope } from "../../shared/proto/xsfleet.gen";
import { Uplink, parseDeviceAddress } from "../../shared/topics";
import { allRoutesOfUplinks } from "../subjects";
import { applyShadowReport } from "./report";
import type { ShadowStore } from "./store";
import { ShadowError } from "./types";

export const shadowReportQueueGroup = "xsfleet-shadow-report";
const inflightMax = 64;

export interface ShadowReportStats { merged: number; invalid: number; dropped: number; errors: number }

export class ShadowReportListener {
  readonly #nc: NatsConnection;
  readonly #store: ShadowStore;
  readonly #writerKey: string;
  readonly #onError: (deviceId: string, e: unknown) => void;
  readonly #subs: Subscription[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #pending = new Set<Promise<void>>();
  readonly stats: ShadowReportStats = { merged: 0, invalid: 0, dropped: 0, errors: 0 };

  constructor(nc: NatsConnection, store: ShadowStore, writerKey: string, onError: (deviceId: string, e: unknown) => void = () => {}) {
    this.#nc = nc;
    this.#store = store;
    this.#writerKey = writerKey;
    this.#onError = onError;
  }

  start(): void {
    // Heartbeats come partitioned (the broker's uplink mapping) or, from an unmapped broker, as sent.
    for (const subject of allRoutesOfUplinks([Uplink.Heartbeat])) {
      const sub = this.#nc.subscribe(subject, { queue: shadowReportQueueGroup });
      this.#subs.push(sub);
      this.#loops.push(this.#consume(sub));
    }
  }

  async #consume(sub: Subscription): Promise<void> {
    for await (const m of sub) {
      const addr = parseDeviceAddress(m.subject);
      if (!addr) continue;
      let env;
      try {
        env = decodeEnvelope(m.data);
      } catch {
        this.stats.invalid++; // ingest dead-letters it; nothing to do here
        continue;
      }
      // The subject names the device (the broker enforces it), not the payload.
      if (env.shadowReport === undefined || env.shadowReport.fields.length === 0) continue;
      if (this.#pending.size >= inflightMax) {
        this.stats.dropped++;
        continue;
      }
      const p: Promise<void> = applyShadowReport(this.#store, addr.deviceId, env.shadowReport, env.via ? `gw-${env.via}` : "device", this.#writerKey)
        .then(() => { this.stats.merged++; })
        .catch((e: unknown) => {
          if (e instanceof ShadowError) this.stats.invalid++;
          else this.stats.errors++;
          this.#onError(addr.deviceId, e);
        })
        .finally(() => { this.#pending.delete(p); });
      this.#pending.add(p);
    }
  }

  /** Stops taking reports and finishes the merges already started. */
  async stop(): Promise<void> {
    await Promise.all(this.#subs.map((sub) => sub.drain().catch(() => undefined)));
    await Promise.all(this.#loops);
    await Promise.allSettled([...this.#pending]);
  }
}
