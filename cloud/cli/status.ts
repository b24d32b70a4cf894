// `xsfleet status`: one look at a running system, through NATS.
import { connect } from "@nats-io/transport-node";
import { parseCommand, stringOption, type CommandSpec } from "./args";
import { FleetProbe } from "./fleet-probe";

export const statusSpec: CommandSpec = {
  name: "status",
  summary: "Print fleet status (devices online, ingest lag, dead letters) of a running xsfleet system.",
  usage: "xsfleet status [--nats URL] [--json]",
  options: {
    nats: { type: "string", value: "URL", description: "NATS URL of the system", default: "nats://127.0.0.1:4333" },
    json: { type: "boolean", description: "print JSON" },
  },
};

/** How long `status` waits for the device state bucket to load (it may not exist yet). */
const statusLoadTimeoutMs = 5_000;

export async function runStatus(argv: string[]): Promise<number> {
  const p = parseCommand(statusSpec, argv);
  if (!p) return 0;
  const url = stringOption(p, "nats")!;
  let nc;
  try {
    nc = await connect({ servers: url, timeout: 3_000 });
  } catch (e) {
    throw new Error(`cannot reach NATS at ${url} (${(e as Error).message}). Is the stack running? Start it with \`npm start\`, or pass --nats.`);
  }
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
        `singletons       ${s.singletons.length ? s.singletons.map((h) => `${h.lease} on ${h.nodeId}`).join(", ") : "none held"}\n`);
    }
    return 0;
  } finally {
    await nc.close();
  }
}
