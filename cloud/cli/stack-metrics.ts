// Metrics of the local stack (`xsfleet up`): a fixed /metrics port for every
// process, chosen once at start (a restarted process keeps its port, so a
// scraper's target stays valid), the simulated fleet's metrics served by the
// `up` process itself, and the Prometheus file-based service discovery file
// (`<state-dir>/prometheus/targets.json`) listing them all — what
// `--prometheus` scrapes, and what an operator's own Prometheus can use.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { SimFleet } from "../../firmware/host/sim-fleet";
import { isPortOpen } from "../infra";
import { createProcessMetrics, type ProcessMetrics } from "../metrics";

/** One scrape target: a process of the stack and where it serves /metrics. */
export interface ScrapeTarget {
  /** Prometheus job: cloud-node, control-replica, paxos-acceptor, up. */
  job: string;
  /** The process name on the status line (cloud-1, control-2, paxos-3, up). */
  name: string;
  port: number;
}

export interface StackMetrics {
  /** The `up` process's registry (fleet, dashboard), served by the dashboard or its own endpoint. */
  readonly up: ProcessMetrics;
  readonly targets: ScrapeTarget[];
  /** A fixed free port for a process; recorded as a target. */
  portFor(job: string, name: string): Promise<number>;
  /** Writes the service-discovery file atomically (Prometheus re-reads it on change). */
  writeTargets(): string;
}

export function createStackMetrics(stateDir: string, fleet: () => SimFleet | null): StackMetrics {
  const up = createProcessMetrics({ process: "up" });
  registerFleetMetrics(up, fleet);
  const targets: ScrapeTarget[] = [];
  const file = path.join(stateDir, "prometheus", "targets.json");
  return {
    up,
    targets,
    async portFor(job, name) {
      const port = await metricsPort(targets.map((t) => t.port));
      targets.push({ job, name, port });
      return port;
    },
    writeTargets() {
      mkdirSync(path.dirname(file), { recursive: true });
      const groups = targets.map((t) => ({ targets: [`127.0.0.1:${t.port}`], labels: { job: t.job, instance: t.name } }));
      writeFileSync(`${file}.tmp`, `${JSON.stringify(groups, null, 2)}\n`);
      renameSync(`${file}.tmp`, file);
      return file;
    },
  };
}

/** Metrics ports are drawn below Linux's ephemeral range (32768+), where
 *  port-0 binds (nats-server's, the tests' free ports) never land, at random,
 *  so that two stacks on one machine rarely meet; a process that still finds
 *  its port taken serves no metrics and says so (it does not fail). */
const metricsPortRange = { first: 20_000, last: 32_000 } as const;

async function metricsPort(taken: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = metricsPortRange.first + Math.floor(Math.random() * (metricsPortRange.last - metricsPortRange.first));
    if (!taken.includes(port) && !(await isPortOpen(port))) return port;
  }
  throw new Error(`no free port for /metrics in ${metricsPortRange.first}..${metricsPortRange.last}`);
}

/** The simulated fleet's counters (sums over its devices), read at scrape time. */
function registerFleetMetrics(m: ProcessMetrics, fleet: () => SimFleet | null): void {
  const stat = (k: "devices" | "connected" | "published" | "acked" | "confirmed" | "retransmits" | "outboxDepth" | "dropped" | "samples" | "batches" | "points" | "heartbeats") =>
    (): number => fleet()?.stats()[k] ?? 0;
  m.gaugeFrom("xsfleet_fleet_devices", "Simulated devices in the fleet", stat("devices"));
  m.gaugeFrom("xsfleet_fleet_devices_connected", "Simulated devices connected to the broker", stat("connected"));
  m.counterFrom("xsfleet_fleet_published_total", "Envelopes the simulated devices handed to MQTT (QoS 1, resends included)", stat("published"));
  m.counterFrom("xsfleet_fleet_pubacks_total", "PUBACKs the simulated devices received (flow control only)", stat("acked"));
  m.counterFrom("xsfleet_fleet_confirmed_total", "Outbox messages the cloud confirmed or rejected by receipt", stat("confirmed"));
  m.counterFrom("xsfleet_fleet_retransmits_total", "Outbox messages sent again (no receipt in time, or a reconnect)", stat("retransmits"));
  m.gaugeFrom("xsfleet_fleet_outbox_messages", "Messages waiting in the simulated devices' outboxes", stat("outboxDepth"));
  m.counterFrom("xsfleet_fleet_dropped_total", "Outbox messages the devices dropped at their limits", stat("dropped"));
  m.counterFrom("xsfleet_fleet_samples_total", "Sensor sample rows the simulated devices took", stat("samples"));
  m.counterFrom("xsfleet_fleet_batches_total", "Telemetry batches the simulated devices made", stat("batches"));
  m.counterFrom("xsfleet_fleet_points_total", "Telemetry points in the batches the simulated devices made", stat("points"));
  m.counterFrom("xsfleet_fleet_heartbeats_total", "Heartbeats the simulated devices sent", stat("heartbeats"));
}
