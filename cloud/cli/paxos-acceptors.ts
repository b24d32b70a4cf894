// The CASPaxos acceptors of `xsfleet up`: three acceptor processes
// (cloud/paxos/main.ts, group "registers") beside the Raft replicas,
// supervised and stopped with them (they are listed with the control
// plane), data in <state-dir>/paxos/a<id>. Any process of the stack can then
// use leaderless registers and locks (cloud/paxos PaxosClient, cloud/lock
// PaxosLock) with acceptors [1, 2, 3] of that group.
//
// Once started, a background probe asks each acceptor for its status and
// logs when a majority answers (or warns if none does within readyTimeoutMs),
// without holding up the rest of the start.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { connectNats, type NatsSettings } from "../nats";
import { paxosStatusSubject } from "../subjects";
import { ProcessKind, StackProcess, type ProcessEvent } from "./cloud-processes";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const acceptorMain = path.join(root, "cloud", "paxos", "main.ts");

/** The acceptor group and ids the local stack runs. */
export const stackPaxosGroup = "registers";
export const stackPaxosAcceptors = [1, 2, 3] as const;
const readyTimeoutMs = 60_000;

export function paxosAcceptorProcess(opts: {
  id: number; group: string; servers: string[]; dataDir: string; logDir: string; onEvent?: (e: ProcessEvent) => void;
  /** Credentials and TLS flags (cloud/cli/stack-security.ts). */
  extraArgs?: readonly string[];
}): StackProcess {
  return new StackProcess({
    name: `paxos-${opts.id}`, kind: ProcessKind.PaxosAcceptor, logDir: opts.logDir, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    nodeArgs: ["--import", "tsx", acceptorMain, "--id", String(opts.id), "--group", opts.group, "--data-dir", opts.dataDir,
      "--nats", opts.servers.join(","), ...(opts.extraArgs ?? [])],
  });
}

/** Starts the stack's acceptors; resolves once they are spawned (readiness is logged later). */
export async function startPaxosAcceptors(opts: {
  servers: string[]; stateDir: string; logDir: string; log: (m: string) => void; onEvent?: (e: ProcessEvent) => void;
  /** Flags of each acceptor (credentials, TLS) and the NATS settings of the readiness probe; absent on an open broker. */
  security?: { acceptorArgs: readonly string[]; probe: Pick<NatsSettings, "credsFile" | "tls"> };
  /** The /metrics port of acceptor `id` (default: no endpoint). */
  metricsPort?: (id: number) => Promise<number>;
}): Promise<StackProcess[]> {
  const dir = path.join(opts.stateDir, "paxos");
  opts.log(`consensus: starting ${stackPaxosAcceptors.length} CASPaxos acceptors, group ${stackPaxosGroup} (data in ${dir}) …`);
  const procs: StackProcess[] = [];
  for (const id of stackPaxosAcceptors) {
    const metricsArgs = opts.metricsPort ? ["--metrics-port", String(await opts.metricsPort(id))] : [];
    const p = paxosAcceptorProcess({
      id, group: stackPaxosGroup, servers: opts.servers, dataDir: path.join(dir, `a${id}`), logDir: opts.logDir,
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}), extraArgs: [...(opts.security?.acceptorArgs ?? []), ...metricsArgs],
    });
    procs.push(p);
    await p.start();
  }
  void reportReady(opts.servers, opts.security?.probe ?? {}, opts.log);
  return procs;
}

async function reportReady(servers: string[], auth: Pick<NatsSettings, "credsFile" | "tls">, log: (m: string) => void): Promise<void> {
  const nc = await connectNats({ servers, name: "xsfleet-up-paxos-probe", ...auth }).catch(() => null);
  if (!nc) return;
  const deadline = Date.now() + readyTimeoutMs;
  try {
    while (Date.now() < deadline && !nc.isClosed()) {
      const answers = await Promise.all(stackPaxosAcceptors.map((id) =>
        nc.request(paxosStatusSubject(stackPaxosGroup, id), new Uint8Array(0), { timeout: 1_000 }).then(() => true, () => false)));
      const up = answers.filter(Boolean).length;
      if (up * 2 > stackPaxosAcceptors.length) {
        log(`consensus: ${up}/${stackPaxosAcceptors.length} CASPaxos acceptors answering (leaderless registers and locks available)`);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    log(`consensus: no majority of CASPaxos acceptors answered within ${readyTimeoutMs / 1000} s; see paxos-*.log`);
  } finally {
    await nc.close().catch(() => undefined);
  }
}
