// A live status line: redrawn in place on a terminal, printed as plain lines
// (at a slower cadence) when output goes to a file or CI log; and what goes
// on it (statusLine, pure). Processes are counted from what `up` saw of
// them (exit code or signal), not from what they last said about
// themselves, so a killed node shows as down at the next redraw.
import { RateMeter as CounterRate } from "../dashboard";
import { ProcessKind, type ProcessSnapshot } from "./cloud-processes";
import { formatReplication, type ReplicationStatus } from "../replication";

export interface LiveStatus {
  /** Redraws the line; off a terminal it is printed every plainEveryMs, or at once when `force` (something changed). */
  update(line: string, force?: boolean): void;
  /** Prints a message above the status line. */
  log(message: string): void;
  stop(): void;
}

export function liveStatus(stream: NodeJS.WriteStream = process.stdout, plainEveryMs = 5_000): LiveStatus {
  const tty = stream.isTTY === true;
  let last = "";
  let lastPlainMs = 0;
  return {
    update(line, force = false) {
      last = line;
      if (tty) {
        stream.write(`\r\x1b[K${line.slice(0, (stream.columns ?? 200) - 1)}`);
      } else if (force || Date.now() - lastPlainMs >= plainEveryMs) {
        lastPlainMs = Date.now();
        stream.write(`${line}\n`);
      }
    },
    log(message) {
      if (tty) stream.write(`\r\x1b[K${message}\n${last}`);
      else stream.write(`${message}\n`);
    },
    stop() {
      if (tty && last) stream.write("\n");
    },
  };
}

/** Named per-second rates of growing counters over a sliding window (0 until known). */
export class RateMeter {
  #meters = new Map<string, CounterRate>();

  constructor(readonly windowMs = 5_000) {}

  rate(name: string, value: number, nowMs = Date.now()): number {
    let m = this.#meters.get(name);
    if (!m) {
      m = new CounterRate(0, this.windowMs);
      this.#meters.set(name, m);
    }
    return m.sample(value, nowMs) ?? 0;
  }
}

export function fmtRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(v >= 100 ? 0 : 1);
}

/** What one status line shows. */
export interface StatusInputs {
  /** Alert events of the analytics role since `up` started; null when it does not run. */
  alerts?: { raised: number; acknowledged: number; cleared: number } | null;
  devicesOnline: number;
  devicesKnown: number;
  /** The in-process simulated fleet, when `up` runs one. */
  /** `outboxDepth`: messages the devices hold until a receipt confirms them (docs/delivery.md). */
  fleet: { connected: number; devices: number; outboxDepth?: number } | null;
  /** `--moddable`: devices running the Moddable-built firmware in mcsim. */
  moddable?: { connected: number; devices: number } | null;
  /** `--topology star|mixed`: gateways and children, and how many of them are connected (children: to their gateway). */
  star?: { gateways: number; children: number; connected: number } | null;
  /** `--topology mesh|mixed`: peers, how many hold every event counted so far, and that count. */
  mesh?: { peers: number; converged: number; events: number } | null;
  batchesPerSec: number;
  pointsPerSec: number;
  consumerLag: number;
  deadLetters: number;
  cloud: readonly ProcessSnapshot[];
  control: readonly ProcessSnapshot[];
  /** Membership as the cloud nodes see each other (null: no orchestration role). */
  members: { up: number; suspect: number; down: number } | null;
  /** Singleton work and the node holding it now. */
  singletons: readonly { lease: string; nodeId: string }[];
  /** The cache ring's counters (null: no cache node answered). */
  cache?: { nodes: number; hitRate: number | null; entries: number } | null;
  /** Replication mode per data set (absent or empty: not shown). */
  replication?: readonly ReplicationStatus[];
  /** Edge jobs placed on gateway/processing devices by the orchestrator, of those defined (docs/edge.md). */
  edgeJobs?: { placed: number; jobs: number } | null;
}

export function statusLine(i: StatusInputs): string {
  const raft = i.control.filter((p) => p.kind !== ProcessKind.PaxosAcceptor);
  const paxos = i.control.filter((p) => p.kind === ProcessKind.PaxosAcceptor);
  return `devices ${i.devicesOnline}/${i.devicesKnown} online` +
    (i.fleet ? ` (${i.fleet.connected}/${i.fleet.devices} connected${i.fleet.outboxDepth ? `, ${i.fleet.outboxDepth} awaiting receipt` : ""})` : "") +
    (i.moddable ? ` | mcsim ${i.moddable.connected}/${i.moddable.devices}` : "") +
    (i.star ? ` | star ${i.star.connected}/${i.star.gateways + i.star.children} (${i.star.gateways} gw)` : "") +
    (i.mesh ? ` | mesh ${i.mesh.converged}/${i.mesh.peers} at ${i.mesh.events} events` : "") +
    (i.edgeJobs ? ` | edge jobs ${i.edgeJobs.placed} placed${i.edgeJobs.placed < i.edgeJobs.jobs ? ` (${i.edgeJobs.jobs - i.edgeJobs.placed} unplaced)` : ""}` : "") +
    ` | ${fmtRate(i.batchesPerSec)} batches/s | ${fmtRate(i.pointsPerSec)} points/s` +
    ` | lag ${i.consumerLag} | dead letters ${i.deadLetters}` +
    (i.alerts ? ` | alerts ${i.alerts.raised} raised, ${i.alerts.cleared} cleared${i.alerts.acknowledged ? `, ${i.alerts.acknowledged} acked` : ""}` : "") +
    ` | ${processSummary("cloud", i.cloud, " up")}` +
    (raft.length ? ` | ${processSummary("raft", raft, "")}` : "") +
    (i.members ? ` | members ${i.members.up} up${i.members.suspect ? `, ${i.members.suspect} suspect` : ""}${i.members.down ? `, ${i.members.down} down` : ""}` : "") +
    (paxos.length ? ` | ${processSummary("paxos", paxos, "")}` : "") +
    (i.cache ? ` | cache ${i.cache.hitRate === null ? "no reads yet" : `${Math.round(i.cache.hitRate * 100)}% hits`} (${i.cache.nodes} nodes, ${i.cache.entries} entries)` : "") +
    (i.singletons.length ? ` | ${i.singletons.map((s) => `${singletonLabel(s.lease)}@${s.nodeId}`).join(" ")}` : "") +
    (i.replication?.length ? ` | repl ${formatReplication(i.replication)}` : "");
}

/** "singleton/backup" → "backup", "recovery/coordinator" → "coordinator". */
export function singletonLabel(lease: string): string {
  return lease.slice(lease.lastIndexOf("/") + 1);
}

/** "cloud 3/3 up", or "cloud 2/3 up (cloud-2 killed by SIGKILL, restarting)". */
export function processSummary(label: string, ps: readonly ProcessSnapshot[], suffix: string): string {
  const up = ps.filter((p) => p.state === "running" || p.state === "starting").length;
  const down = ps.filter((p) => p.state !== "running" && p.state !== "starting")
    .map((p) => `${p.name} ${p.lastExit && p.state !== "stopping" ? `${p.lastExit.text}, ` : ""}${p.state === "failed" ? "not restarted" : p.state}`);
  return `${label} ${up}/${ps.length}${suffix}${down.length ? ` (${down.join("; ")})` : ""}`;
}
