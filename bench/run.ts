// npm run bench [-- name …]: lists the benchmarks, or runs the named ones
// (all with `all`) one after another, each in its own process.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const benches: Record<string, string> = {
  codec: "telemetry codec: bytes/point and speed vs Gorilla, deflate, zstd (and on XS)",
  footprint: "device bundle size and XS heap of a sensor node vs ESP32 nodemcu defaults",
  detect: "failure detectors: detection time and false positives; SWIM dissemination",
  raft: "control plane writes/s, p50/p99, reads/s vs etcd 3.4 and JetStream R3",
  consensus: "CASPaxos registers and locks beside Raft and etcd; unavailability when a leader (or an acceptor) is killed",
  ingest: "end-to-end ingest points/s and latency vs raw JetStream publish",
  edge: "mesh convergence rounds vs n (8..64, 0/20 % loss); gateway relay cost vs direct uplinks",
  security: "connect + provisioning of 1,000 devices with and without TLS; ingest rate with authentication on vs off",
};

const args = process.argv.slice(2);
if (args.length === 0 || args.includes("--help")) {
  console.log("usage: npm run bench -- <name …|all>   (or npm run bench:<name>)\n");
  for (const [name, what] of Object.entries(benches)) console.log(`  ${name.padEnd(10)} ${what}`);
  process.exit(0);
}
const names = args.includes("all") ? Object.keys(benches) : args;
for (const n of names) {
  if (!benches[n]) {
    console.error(`unknown benchmark "${n}"; choose from ${Object.keys(benches).join(", ")}`);
    process.exit(2);
  }
}
for (const n of names) {
  console.log(`\n=== bench:${n} ===`);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(here, `${n}.ts`)], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
