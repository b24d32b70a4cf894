// C3: KV compare-and-set race (nats-server#4320) on 2.9.10, R3 bucket in a
// 3-node cluster. Each round every writer reads the key's revision r and
// then all call kv.update(key, v, r) at once. More than one success in a
// round = two writers both "won" the same CAS.
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { startCluster } from "./lib.mjs";
const ROUNDS = Number(process.argv[2] ?? 200), W = Number(process.argv[3] ?? 9), R = Number(process.argv[4] ?? 3);
const c = await startCluster(3, "", { name: "c3" });
const ncs = await Promise.all(Array.from({ length: W }, (_, i) => connect({ servers: c.servers[i % 3].url })));
const kvs = await Promise.all(ncs.map(async (nc, i) => i === 0 ? new Kvm(nc).create("CAS", { replicas: R, history: 64 }) : null));
for (let i = 1; i < W; i++) kvs[i] = await new Kvm(ncs[i]).open("CAS");
await kvs[0].put("k", "init");
let doubleWins = 0, totalWins = 0, zeroWins = 0; const hist = {};
for (let r = 0; r < ROUNDS; r++) {
  const rev = (await kvs[0].get("k")).revision;
  const res = await Promise.allSettled(kvs.map((kv, i) => kv.update("k", `w${i}-r${r}`, rev)));
  const wins = res.filter((x) => x.status === "fulfilled").length;
  hist[wins] = (hist[wins] ?? 0) + 1;
  totalWins += wins; if (wins > 1) doubleWins++; if (wins === 0) zeroWins++;
}
const e = await kvs[0].get("k");
// every successful update appends one message on the key's subject
const h = []; for await (const x of await kvs[0].history({ key: "k" })) h.push(x);
console.log(`R${R}, ${W} writers spread over 3 servers, ${ROUNDS} rounds: rounds by number of successful CAS ${JSON.stringify(hist)}; rounds with >1 winner: ${doubleWins}; total successes ${totalWins}; final revision ${e.revision}`);
await Promise.all(ncs.map((nc) => nc.close())); await c.stop(); process.exit(0);
