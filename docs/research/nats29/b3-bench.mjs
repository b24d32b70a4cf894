// B3: JetStream publish rate with 1 KB messages on 2.9.10, R1 (single node)
// vs R3 (3-node cluster), file storage. 2.9.10 has no sync_interval option
// (the server refuses to start with it), so only the default is measurable;
// as a proxy for "sync always" we time write+fdatasync of 1 KB on this disk.
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { openSync, writeSync, fdatasyncSync, closeSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startServer, startCluster } from "./lib.mjs";

const payload = new Uint8Array(1024).fill(7);
async function bench(label, url, replicas) {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "B", subjects: ["b.>"], num_replicas: replicas, storage: "file" });
  const js = jetstream(nc);
  let t = performance.now(); const N1 = 2000;
  for (let i = 0; i < N1; i++) await js.publish("b.x", payload);
  const syncRate = N1 / ((performance.now() - t) / 1000);
  t = performance.now(); const N2 = 20000, W = 256; let inflight = [];
  for (let i = 0; i < N2; i++) { inflight.push(js.publish("b.x", payload)); if (inflight.length >= W) { await Promise.all(inflight); inflight = []; } }
  await Promise.all(inflight);
  const asyncRate = N2 / ((performance.now() - t) / 1000);
  console.log(`${label}: sequential (await each) ${syncRate.toFixed(0)} msg/s (${(1000 / syncRate).toFixed(2)} ms/pub); pipelined window ${W}: ${asyncRate.toFixed(0)} msg/s`);
  await nc.close();
}
const single = await startServer(`server_name: b3\nlisten: 127.0.0.1:{{PORT}}\njetstream { store_dir: "{{STORE}}" }`, { name: "b3" });
await bench("R1 single node", single.url, 1);
await single.stop();
const c = await startCluster(3, "", { name: "b3c" });
await bench("R3 3-node cluster", c.servers[0].url, 3);
await c.stop();
// fsync proxy
const f = path.join(mkdtempSync(path.join(tmpdir(), "fsync-")), "f");
const fd = openSync(f, "w"); const n = 300; const t = performance.now();
for (let i = 0; i < n; i++) { writeSync(fd, payload); fdatasyncSync(fd); }
closeSync(fd);
console.log(`write 1 KB + fdatasync on ${tmpdir()}: ${((performance.now() - t) / n).toFixed(3)} ms/op`);
process.exit(0);
