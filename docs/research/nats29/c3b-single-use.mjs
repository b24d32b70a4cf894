// C3b: single use on R3 without compare-and-set: a stream with
// max_msgs_per_subject 1, discard new and discard_new_per_subject, where
// every round 9 publishers on 3 servers publish to the same new subject at
// once. More than one success in a round = the limit is not linearizable.
// (Used by cloud/security/trust-store.ts for one-time claims.)
// usage: node c3b-single-use.mjs ROUNDS PUBLISHERS
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startCluster } from "./lib.mjs";
const ROUNDS = Number(process.argv[2] ?? 200), W = Number(process.argv[3] ?? 9);
const c = await startCluster(3, "", { name: "c3b" });
const ncs = await Promise.all(Array.from({ length: W }, (_, i) => connect({ servers: c.servers[i % 3].url })));
const jsm = await jetstreamManager(ncs[0]);
await jsm.streams.add({ name: "USED", subjects: ["used.*"], num_replicas: 3, max_msgs_per_subject: 1, discard: "new", discard_new_per_subject: true, storage: "file" });
const info = await jsm.streams.info("USED");
console.log("config discard_new_per_subject:", info.config.discard_new_per_subject, "max_msgs_per_subject", info.config.max_msgs_per_subject);
const jss = ncs.map((nc) => jetstream(nc));
const hist = {}; let multi = 0; let errs = new Set();
for (let r = 0; r < ROUNDS; r++) {
  const res = await Promise.allSettled(jss.map((js, i) => js.publish(`used.k${r}`, `w${i}`)));
  const wins = res.filter((x) => x.status === "fulfilled").length;
  for (const x of res) if (x.status === "rejected") errs.add(String(x.reason?.message ?? x.reason));
  hist[wins] = (hist[wins] ?? 0) + 1; if (wins > 1) multi++;
}
const st = (await jsm.streams.info("USED")).state;
console.log(`R3 discard-new-per-subject, ${W} publishers over 3 servers, ${ROUNDS} rounds: rounds by winners ${JSON.stringify(hist)}; >1 winner: ${multi}; stored ${st.messages}; errors ${[...errs].join(" | ")}`);
await Promise.all(ncs.map((nc) => nc.close())); await c.stop(); process.exit(0);
