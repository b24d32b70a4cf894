// CASPaxos over the real thing: 3 acceptor processes (cloud/paxos/main.ts)
// on a real nats-server. The DistributedLock conformance suite runs against
// PaxosLock here exactly as against the Raft and Redis locks; then the
// acceptor process's own edges: flags, bad frames, a data dir that belongs
// to another acceptor.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaxosLock } from "../../../cloud/lock";
import { paxosAcceptorSubject } from "../../../cloud/subjects";
import { AcceptorCluster } from "../../harness/paxos";
import { startNats, type NatsCluster } from "../../harness/nats";
import { until } from "../../harness/wait";
import { runLockConformance } from "../lock/conformance";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let nats: NatsCluster;
let cluster: AcceptorCluster;

beforeAll(async () => {
  nats = await startNats();
  cluster = await AcceptorCluster.start(nats.servers[0]!);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await nats?.stop();
});

// The suite's many concurrent acquirers of one register make every proposer conflict: on a busy 2-core
// CI machine 20 proposer attempts (the client default) ran out once; contention is what this suite tests.
runLockConformance("CASPaxos over acceptor processes (NATS)", () =>
  new PaxosLock({ client: cluster.client({ attemptsMax: 100 }), ownsClient: true, retry: { retryMinMs: 5, retryMaxMs: 50 } }));

describe("acceptor process", () => {
  const main = path.join(REPO, "cloud/paxos/main.ts");
  const run = (...args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, ["--import", "tsx", main, ...args], { cwd: REPO, encoding: "utf8", timeout: 60_000 });

  it("prints its usage with --help and refuses bad flags with exit code 2", () => {
    const help = run("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--data-dir DIR/);
    const bad = run("--id", "0", "--data-dir", "/tmp/x", "--nats", "nats://127.0.0.1:1");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--id must be an integer in 1\.\.65535/);
    expect(run("--id", "1").stderr).toMatch(/--data-dir is required/);
    expect(run("--bogus").status).toBe(2);
  });

  it("counts and drops malformed frames, and keeps serving", async () => {
    const before = (await cluster.status(1))!;
    for (const junk of [new Uint8Array([1, 2, 3]), new Uint8Array(0), new TextEncoder().encode("{\"kind\":1}")]) {
      cluster.nc.publish(paxosAcceptorSubject(cluster.group, 1), junk, { reply: "_INBOX.junk" });
    }
    await until("the acceptor to count 3 bad frames", async () => ((await cluster.status(1))?.node.decodeErrors ?? 0) >= before.node.decodeErrors + 3);
    const c = cluster.client();
    expect((await c.read("after-junk")).ok).toBe(true);
    await c.close();
  });

  it("refuses a data dir that belongs to another acceptor", () => {
    const dir = path.join(cluster.root, "a1");
    const r = run("--id", "2", "--data-dir", dir, "--nats", cluster.natsUrl, "--group", cluster.group);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/belongs to acceptor 1/);
  });
});
