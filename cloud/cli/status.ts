// `xsfleet status`: one look at a running system, through NATS.
import { parseCommand, type CommandSpec } from "./args";
import { cliConnect, connectionOptionSpecs } from "./cli-connection";
import { FleetProbe } from "./fleet-probe";
import { formatReplication } from "../replication";

export const statusSpec: CommandSpec = {
  name: "status",
  summary: "Print fleet status (devices online, ingest lag, dead letters) of a running xsfleet system.",
  usage: "xsfleet status [--nats URL] [--creds FILE] [--json]",
  options: {
    ...connectionOptionSpecs,
    json: { type: "boolean", description: "print JSON" },
  },
};

/** How long `status` waits for the device state bucket to load (it may not exist yet). */
const statusLoadTimeoutMs = 5_000;

export async function runStatus(argv: string[]): Promise<number> {
  const p = parseCommand(statusSpec, argv);
  if (!p) return 0;
  const nc = await cliConnect(p, "xsfleet-status");
  try {
    const probe = new FleetProbe(nc);
    await probe.ready(statusLoadTimeoutMs);
    const s = await probe.snapshot();
    probe.stop();
    if (p.json) process.stdout.write(`${JSON.stringify(s)}\n`);
    else {
      process.stdout.write(`devices online   ${s.devicesOnline} of ${s.devicesKnown}\n` +
        `ingest lag       ${s.consumerLag} messages\n` +
        `dead letters     ${s.deadLetters}\n` +
        `telemetry stored ${s.telemetryMessages} messages\n` +
        `cloud members    ${s.members ? `${s.members.up} up, ${s.members.suspect} suspect, ${s.members.down} down` : "unknown (no node runs the orchestration role)"}\n` +
        `singletons       ${s.singletons.length ? s.singletons.map((h) => `${h.lease} on ${h.nodeId}`).join(", ") : "none held"}\n` +
        `cache            ${s.cache ? `${s.cache.hitRate === null ? "no reads yet" : `${(s.cache.hitRate * 100).toFixed(1)}% hits`} (${s.cache.hits} hits, ${s.cache.misses} misses), ${s.cache.nodes} nodes, ${s.cache.entries} entries, ${s.cache.evictions} evictions` : "no cache node answered"}\n` +
        `replication      ${s.replication.length ? formatReplication(s.replication) : "unknown"}\n`);
    }
    return 0;
  } finally {
    await nc.close();
  }
}
