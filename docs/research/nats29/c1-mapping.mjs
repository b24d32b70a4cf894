// C1: account subject mapping with {{partition(16,1)}} on 2.9.10, applied to
// MQTT publishes, in a 3-node cluster. Deterministic across servers? Which
// subject do permissions see? Retained messages and wills with a mapped subject?
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { startCluster, mqttConnect, pubResult, subResult, closeAll, sleep } from "./lib.mjs";

// FNV-1a 32 of the concatenated source tokens, mod N (accounts.go getHashPartition)
const fnv1a = (s) => { let h = 0x811c9dc5; for (const ch of Buffer.from(s)) { h ^= ch; h = Math.imul(h, 0x01000193) >>> 0; } return h >>> 0; };
const part = (id) => fnv1a(id) % 16;
const kinds = ["hello", "hb", "tele", "ctr", "ack", "status"];
const mappings = kinds.map((k) => `"xsfleet.v1.dev.*.${k}": "xsfleet.v1.p.{{partition(16,1)}}.dev.{{wildcard(1)}}.${k}"`).join("\n    ");
const acct = `accounts { FLEET {
  jetstream: enabled
  mappings: {
    ${mappings}
  }
  users: [
    { user: admin, password: admin }
    { user: dev, password: dev, allowed_connection_types: ["MQTT"] }
    { user: d1orig, password: p, permissions: { publish: ["xsfleet.v1.dev.d1.>"], subscribe: ["xsfleet.v1.dev.d1.cmd"] }, allowed_connection_types: ["MQTT"] }
    { user: d1mapped, password: p, permissions: { publish: ["xsfleet.v1.p.${part("d1")}.dev.d1.>"], subscribe: ["xsfleet.v1.dev.d1.cmd"] }, allowed_connection_types: ["MQTT"] }
    { user: watcher, password: p, permissions: { subscribe: [">"] }, allowed_connection_types: ["MQTT"] }
  ]
} }`;
const c = await startCluster(3, acct, { name: "c1", mqttExtra: "stream_replicas: 3" });
const nc = await connect({ servers: c.servers[0].url, user: "admin", pass: "admin" });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: "XSF_UP", subjects: ["xsfleet.v1.p.*.dev.*.*"], num_replicas: 3 });
await jsm.consumers.add("XSF_UP", { durable_name: "p3", filter_subject: "xsfleet.v1.p.3.dev.*.*", ack_policy: "explicit" });
const seen = new Map(); // device -> set of partitions observed
nc.subscribe("xsfleet.>", { callback: (_e, m) => {
  const t = m.subject.split(".");
  if (t[2] === "p") { const s = seen.get(t[5]) ?? new Set(); s.add(Number(t[3])); seen.set(t[5], s); }
  else { const s = seen.get(`unmapped:${m.subject}`) ?? new Set(); seen.set(`unmapped:${m.subject}`, s); }
} });
await nc.flush();
// every device publishes once through each of the 3 servers
const devs = Array.from({ length: 40 }, (_, i) => `dev${i}`);
for (const [i, s] of c.servers.entries()) {
  const m = await mqttConnect(s.mqttUrl, { username: "dev", password: "dev", clientId: `pub${i}`, clean: true });
  for (const d of devs) await pubResult(m, `xsfleet/v1/dev/${d}/tele`, "x", { qos: 1 });
  closeAll(m);
}
await sleep(500);
const multi = devs.filter((d) => (seen.get(d)?.size ?? 0) !== 1);
const mismatch = devs.filter((d) => seen.get(d) && [...seen.get(d)][0] !== part(d));
console.log(`devices seen with exactly one partition across 3 servers: ${devs.length - multi.length}/${devs.length}; matches JS FNV-1a(id)%16: ${devs.length - mismatch.length}/${devs.length}`);
console.log("partition histogram:", JSON.stringify(Object.fromEntries([...Array(16).keys()].map((p) => [p, devs.filter((d) => part(d) === p).length]))));
console.log("unmapped subjects seen:", JSON.stringify([...seen.keys()].filter((k) => k.startsWith("unmapped"))));
const ci = await jsm.consumers.info("XSF_UP", "p3");
console.log(`XSF_UP has ${(await jsm.streams.info("XSF_UP")).state.messages} msgs; consumer filter xsfleet.v1.p.3.dev.*.* pending ${ci.num_pending} (expected ${devs.filter((d) => part(d) === 3).length * 3})`);

// permissions: original vs mapped subject
for (const user of ["d1orig", "d1mapped"]) {
  const m = await mqttConnect(c.servers[1].mqttUrl, { username: user, password: "p", clientId: user, clean: true });
  const before = [...(seen.get("d1") ?? [])].length;
  const cnt0 = (await jsm.streams.info("XSF_UP")).state.messages;
  const r = await pubResult(m, "xsfleet/v1/dev/d1/tele", "x", { qos: 1 });
  const r2 = await pubResult(m, `xsfleet/v1/p/${(part("d1") + 1) % 16}/dev/d1/tele`, "forged-partition", { qos: 1 });
  await sleep(300);
  console.log(`${user}: publish xsfleet/v1/dev/d1/tele -> ${r}, XSF_UP +${(await jsm.streams.info("XSF_UP")).state.messages - cnt0 - 0} (incl. forged below); direct publish to wrong partition ${(part("d1") + 1) % 16} -> ${r2}`);
  closeAll(m);
}
console.log("publish violations logged:", c.servers[1].log.split("\n").filter((l) => /Publish Violation/.test(l)).map((l) => l.replace(/^.*Publish Violation - /, "")).join(" | "));

// retained + will with mapped subjects
const w = await mqttConnect(c.servers[2].mqttUrl, { username: "watcher", password: "p", clientId: "w1", clean: true });
const d = await mqttConnect(c.servers[0].mqttUrl, { username: "dev", password: "dev", clientId: "d7", clean: true,
  will: { topic: "xsfleet/v1/dev/d7/status", payload: Buffer.from("offline"), qos: 1, retain: true } });
const wGot = []; w.on("message", (t, p, pk) => wGot.push(`${t}=${p}${pk.retain ? " (retained)" : ""}`));
await subResult(w, "xsfleet/v1/dev/+/status", { qos: 0 });
await subResult(w, "xsfleet/v1/p/+/dev/+/status", { qos: 0 });
await pubResult(d, "xsfleet/v1/dev/d7/status", "online", { qos: 1, retain: true });
d.stream.destroy(); // will
await sleep(1000);
console.log("live messages seen by watcher (subscribed to original + mapped status topics):", JSON.stringify(wGot));
const w2 = await mqttConnect(c.servers[1].mqttUrl, { username: "watcher", password: "p", clientId: "w2", clean: true });
const w2Got = []; w2.on("message", (t, p, pk) => w2Got.push(`${t}=${p}${pk.retain ? " (retained)" : ""}`));
await subResult(w2, "xsfleet/v1/dev/+/status", { qos: 0 });
await sleep(500);
const orig = [...w2Got]; w2Got.length = 0;
await subResult(w2, "xsfleet/v1/p/+/dev/+/status", { qos: 0 });
await sleep(500);
console.log(`late subscriber: retained on original topic filter ${JSON.stringify(orig)}; on mapped topic filter ${JSON.stringify(w2Got)}`);
closeAll(w, w2); await nc.close(); await c.stop(); process.exit(0);
