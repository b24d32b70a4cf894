// Prometheus view of one node's membership (docs/observability.md): members
// by combined status, each peer's detector suspicion (phi, or elapsed over
// timeout) and the threshold where it flips, status changes seen, SWIM
// probes by outcome and their round-trip times, message counters. Read from
// the driver at scrape time, except the round-trip histogram, which the
// driver feeds once per acked probe (about one per second).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { MembershipDriver } from "./driver";
import { MemberStatus } from "./types";

/** Probe round trips over NATS: 0.5 ms to 2.5 s. */
export const probeRttBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Registers the collectors; returns what unhooks the round-trip listener. */
export function registerMembershipMetrics(registry: Registry, m: MembershipDriver): () => void {
  new Gauge({
    name: "xsfleet_membership_members", help: "Cluster members by combined status (heartbeat detector and SWIM), this node included", labelNames: ["status"], registers: [registry],
    collect() {
      const counts: Record<string, number> = { [MemberStatus.Up]: 0, [MemberStatus.Suspect]: 0, [MemberStatus.Down]: 0 };
      for (const v of m.members()) counts[v.status] = (counts[v.status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: "xsfleet_membership_suspicion", help: "Heartbeat detector suspicion of each peer (phi for phi-accrual, elapsed/timeout for the timeout detector)", labelNames: ["member"], registers: [registry],
    collect() {
      // Peers come and go: only the present ones are reported (bounded by the membership's membersMax).
      this.reset();
      for (const v of m.members()) if (!v.self) this.set({ member: v.nodeId }, v.suspicion);
    },
  });
  new Gauge({
    name: "xsfleet_membership_suspicion_threshold", help: "Suspicion at which the heartbeat detector calls a peer suspect", registers: [registry],
    collect() {
      const peer = m.members().find((v) => !v.self);
      if (peer) this.set(peer.threshold);
    },
  });
  new Counter({
    name: "xsfleet_membership_status_changes_total", help: "Peer status changes this node saw, by the new status", labelNames: ["status"], registers: [registry],
    collect() {
      this.reset();
      this.inc({ status: MemberStatus.Suspect }, m.stats.becameSuspect);
      this.inc({ status: MemberStatus.Down }, m.stats.becameDown);
      this.inc({ status: MemberStatus.Up }, m.stats.becameUp);
    },
  });
  new Counter({
    name: "xsfleet_membership_messages_total", help: "Membership messages: heartbeatsSent, heartbeatsReceived, swimSent, swimReceived, decodeErrors, membersRejected", labelNames: ["event"], registers: [registry],
    collect() {
      this.reset();
      const s = m.stats;
      for (const k of ["heartbeatsSent", "heartbeatsReceived", "swimSent", "swimReceived", "decodeErrors", "membersRejected"] as const) this.inc({ event: k }, s[k]);
    },
  });
  new Counter({
    name: "xsfleet_swim_probes_total", help: "SWIM probes this node started, by outcome (acked directly, acked through ping-req, failed: suspicion raised)", labelNames: ["result"], registers: [registry],
    collect() {
      this.reset();
      const s = m.swimStats;
      if (!s) return;
      this.inc({ result: "acked" }, s.probesAcked);
      this.inc({ result: "acked_indirect" }, s.probesAckedIndirect);
      this.inc({ result: "failed" }, s.probesFailed);
    },
  });
  const rtt = new Histogram({ name: "xsfleet_swim_probe_rtt_seconds", help: "Round-trip time of acked SWIM probes (ping to ack, direct or through ping-req)", buckets: probeRttBuckets, registers: [registry] });
  return m.onProbeRtt((s) => rtt.observe(s));
}
