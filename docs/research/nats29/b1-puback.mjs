// B1: when is the MQTT QoS1 PUBACK sent relative to the user stream that
// captures the subject? 3-node cluster; device on node0 publishes QoS1
// xsfleet/v1/dev/d1/tele sequentially; mid-run we kill the node that hosts
// the user stream XSF_TELE (R1 on node2) or its leader (R3). Count PUBACKed
// sequence numbers vs what XSF_TELE stored.
// Also a single-server check: XSF_TELE full with discard:new -> still PUBACK?
// usage: node b1-puback.mjs r1|r3|full [default] [ingest] [colocate]
//   default = leave mqtt.stream_replicas unset (R = number of routes)
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startCluster, startServer, mqttConnect, pubResult, closeAll, sleep } from "./lib.mjs";

const variant = process.argv[2] ?? "r1";
const acct = `accounts { FLEET { jetstream: enabled, users: [ { user: admin, password: admin }, { user: dev, password: dev, allowed_connection_types: ["MQTT"] } ] } }`;

async function storedSeqs(jsm, js) {
  const seqs = new Set();
  let si;
  for (let a = 0; !si; a++) si = await jsm.streams.info("XSF_TELE").catch((e) => { if (a > 15) throw e; return sleep(2000).then(() => null); });
  for (let s = si.state.first_seq; s <= si.state.last_seq && si.state.messages > 0; s++) {
    const m = await jsm.streams.getMessage("XSF_TELE", { seq: s }).catch(() => null);
    if (m) seqs.add(Number(new TextDecoder().decode(m.data)));
  }
  return seqs;
}

if (variant === "full") {
  const srv = await startServer(`server_name: b1\nlisten: 127.0.0.1:{{PORT}}\njetstream { store_dir: "{{STORE}}" }\nmqtt { listen: 127.0.0.1:{{MQTT}} }\n${acct}`, { name: "b1full" });
  const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "XSF_TELE", subjects: ["xsfleet.v1.dev.*.tele"], max_msgs: 3, discard: "new" });
  const d = await mqttConnect(srv.mqttUrl, { username: "dev", password: "dev", clientId: "d1", clean: true });
  const res = [];
  for (let i = 1; i <= 6; i++) res.push(await pubResult(d, "xsfleet/v1/dev/d1/tele", String(i), { qos: 1 }));
  console.log("XSF_TELE max_msgs=3 discard=new; 6 QoS1 publishes ->", res.join(","), "; stored:", [...await storedSeqs(jsm)].join(","));
  console.log("$MQTT_msgs state:", JSON.stringify((await jsm.streams.info("$MQTT_msgs")).state.messages), "msgs (interest retention, no QoS1 subscribers)");
  closeAll(d); await nc.close(); await srv.stop(); process.exit(0);
}

const mqttExtra = process.argv[3] === "default" ? "" : "stream_replicas: 3";
console.log(`mqtt block extra: "${mqttExtra}"`);
const c = await startCluster(3, acct, { name: "b1", mqttExtra });
const nc = await connect({ servers: c.servers[0].url, user: "admin", pass: "admin" });
const jsm = await jetstreamManager(nc);
const replicas = variant === "r3" ? 3 : 1;
await jsm.streams.add({ name: "XSF_TELE", subjects: ["xsfleet.v1.dev.*.tele"], num_replicas: replicas, ...(replicas === 1 ? { placement: { tags: ["node2"] } } : {}) });
let dev = await mqttConnect(c.servers[0].mqttUrl, { username: "dev", password: "dev", clientId: "d1", clean: true });
await pubResult(dev, "xsfleet/v1/dev/d1/tele", "0", { qos: 1 }); // creates the $MQTT_ streams
const leaderOf = async (name) => (await jsm.streams.info(name)).cluster?.leader;
// make sure neither the device's node nor the admin's node hosts the leader we kill
for (let i = 0; i < 10 && replicas === 3 && (await leaderOf("XSF_TELE")) === "b10"; i++) { await jsm.streams.info("XSF_TELE"); await nc.request("$JS.API.STREAM.LEADER.STEPDOWN.XSF_TELE"); await sleep(1500); }
const withIngest = process.argv.includes("ingest");
if (withIngest) {
  // our own durable on the MQTT message stream: holds interest, survives leader changes
  await jsm.consumers.add("$MQTT_msgs", { durable_name: "INGEST", filter_subject: "$MQTT.msgs.xsfleet.v1.dev.*.tele", ack_policy: "explicit", num_replicas: 3 });
  console.log("created durable INGEST on $MQTT_msgs filter $MQTT.msgs.xsfleet.v1.dev.*.tele");
}
const victim = await leaderOf("XSF_TELE");
// separate the leaders so that only the user stream loses its leader
// ("colocate": instead put the $MQTT_msgs leader on the victim too)
const colocate = process.argv.includes("colocate");
for (let i = 0; i < 10 && colocate && (await leaderOf("$MQTT_msgs")) !== victim; i++) { await nc.request("$JS.API.STREAM.LEADER.STEPDOWN.$MQTT_msgs"); await sleep(1500); }
for (let i = 0; i < 10 && !colocate && (await leaderOf("$MQTT_msgs")) === victim; i++) { await nc.request("$JS.API.STREAM.LEADER.STEPDOWN.$MQTT_msgs"); await sleep(1500); }
console.log(`$MQTT_msgs replicas: ${(await jsm.streams.info("$MQTT_msgs")).config.num_replicas}`);
console.log(`XSF_TELE R${replicas} leader ${victim}; $MQTT_msgs leader ${await leaderOf("$MQTT_msgs")}; device on b10`);
const acked = new Set(); const events = []; const _push = events.push.bind(events); events.push = (e) => { console.log(`  [${new Date().toISOString().slice(17, 23)}] ${e}`); return _push(e); };
const K = 300; let killed = false; let fails = 0;
for (let i = 1; i <= K; i++) {
  if (i === 100 && !killed) { killed = true; events.push(`kill ${victim} before #${i}`); await c.servers[Number(victim.slice(-1))].stop("SIGKILL"); }
  const t = performance.now();
  const r = await pubResult(dev, "xsfleet/v1/dev/d1/tele", String(i), { qos: 1 }, 6000);
  if (r === "puback") { fails = 0; acked.add(i); if (performance.now() - t > 500) events.push(`#${i} PUBACK after ${(performance.now() - t).toFixed(0)} ms`); }
  else {
    events.push(`#${i}: ${r}`);
    if (++fails > 4) { events.push("giving up after 5 failures"); break; }
    closeAll(dev);
    const t1 = performance.now();
    for (let a = 0; ; a++) {
      try { dev = await mqttConnect(c.servers[0].mqttUrl, { username: "dev", password: "dev", clientId: "d1", clean: true, connectTimeout: 8000 }); break; }
      catch (e) { if (a === 0) events.push(`reconnect failing: ${e.message}`); if (performance.now() - t1 > 60000) throw e; await sleep(500); }
    }
    events.push(`reconnected after ${(performance.now() - t1).toFixed(0)} ms`);
    i--; // at-least-once: resend
  }
  await sleep(killed ? 50 : 5);
}
if (replicas === 1) { // bring the host back so we can read the stream
  const i = Number(victim.slice(-1));
  c.servers[i] = await startServer(c.body(i), { name: `b1${i}`, dir: c.dir, ports: c.servers[i].ports });
  await sleep(4000);
}
const stored = await storedSeqs(jsm);
if (withIngest) {
  const { jetstream } = await import("@nats-io/jetstream");
  const cons = await jetstream(nc).consumers.get("$MQTT_msgs", "INGEST");
  const got = new Set();
  while (true) {
    const batch = await cons.fetch({ max_messages: 200, expires: 2000 });
    let n = 0;
    for await (const m of batch) { got.add(Number(new TextDecoder().decode(m.data))); m.ack(); n++; }
    if (n === 0) break;
  }
  const lostI = [...acked].filter((x) => !got.has(x));
  console.log(`INGEST durable on $MQTT_msgs delivered ${got.size} distinct seqs; PUBACKed but not delivered to INGEST: ${lostI.length}`);
}
const lost = [...acked].filter((s) => !stored.has(s));
console.log("b10 log ERR/WRN:\n  " + [...new Set(c.servers[0].log.split("\n").filter((l) => /\[(ERR|WRN)\]/.test(l)).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, "").replace(/mid:\d+/, "mid:N")))].slice(0, 10).join("\n  "));
const firstAfter = [...stored].filter((x) => x >= 100).sort((a, b) => a - b)[0];
if (firstAfter) console.log(`first stored seq after the kill: #${firstAfter} (~${((firstAfter - 100) * 55 / 1000).toFixed(1)} s after the kill at ~55 ms/publish)`);
console.log(`PUBACKed ${acked.size}/${K}; stored in XSF_TELE ${[...stored].filter((s) => s > 0).length}; PUBACKed but NOT stored: ${lost.length}` + (lost.length ? ` (seq ${lost[0]}..${lost[lost.length - 1]})` : ""));
closeAll(dev); await nc.close(); await c.stop();
process.exit(0);
