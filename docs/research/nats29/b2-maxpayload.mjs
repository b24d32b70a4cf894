// B2: oversized MQTT publishes. Server max_payload 4096; stream XSF_TELE
// max_msg_size 2048. Which sizes get a PUBACK, reach NATS subscribers, are
// stored? Then: set max_msg_size on $MQTT_msgs (the stream every QoS1 publish
// is stored in before the PUBACK) and retry.
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startServer, mqttConnect, pubResult, closeAll, sleep } from "./lib.mjs";

const srv = await startServer(`server_name: b2
listen: 127.0.0.1:{{PORT}}
max_payload: 4096
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
accounts { FLEET { jetstream: enabled, users: [ { user: admin, password: admin }, { user: dev, password: dev, allowed_connection_types: ["MQTT"] } ] } }`, { name: "b2" });
const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: "XSF_TELE", subjects: ["xsfleet.v1.dev.*.tele"], max_msg_size: 2048 });
const core = [];
nc.subscribe("xsfleet.v1.dev.*.tele", { callback: (_e, m) => core.push(m.data.length) });
const count = async (s) => (await jsm.streams.info(s)).state.messages;
let dev = await mqttConnect(srv.mqttUrl, { username: "dev", password: "dev", clientId: "d1", clean: true });
async function trial(label, size) {
  const c0 = core.length, s0 = await count("XSF_TELE");
  const r = await pubResult(dev, "xsfleet/v1/dev/d1/tele", Buffer.alloc(size, 65), { qos: 1 }, 6000);
  await sleep(200);
  console.log(`${label} ${size} B: ${r}; core NATS subscriber got ${core.length - c0 ? core.slice(c0).join(",") + " B" : "nothing"}; XSF_TELE +${(await count("XSF_TELE")) - s0}`);
  if (!dev.connected) dev = await mqttConnect(srv.mqttUrl, { username: "dev", password: "dev", clientId: "d1", clean: true });
}
for (const n of [1000, 3000, 8000, 2_000_000]) await trial("default $MQTT_msgs:", n);
const natsPub = await (async () => { try { nc.publish("xsfleet.v1.dev.d1.tele", new Uint8Array(8000)); await nc.flush(); return "flushed"; } catch (e) { return `refused: ${e.message}`; } })();
console.log("NATS-protocol publish 8000 B with max_payload 4096 ->", natsPub, "(client lib check) ; nc closed:", nc.isClosed());
// cap the MQTT message stream
const cfg = (await jsm.streams.info("$MQTT_msgs")).config;
await jsm.streams.update("$MQTT_msgs", { ...cfg, max_msg_size: 2048 });
console.log("$MQTT_msgs max_msg_size set to 2048");
await jsm.streams.update("XSF_TELE", { ...(await jsm.streams.info("XSF_TELE")).config, max_msg_size: 1 << 20 });
console.log("XSF_TELE max_msg_size raised to 1 MiB (to show ordering: user streams get the message before the $MQTT_msgs store)");
for (const n of [1000, 3000]) await trial("capped $MQTT_msgs:", n);
console.log("server log:\n  " + [...new Set(srv.log.split("\n").filter((l) => /\[(ERR|WRN)\]/.test(l) && !/Plaintext/.test(l)).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, "").replace(/\d+\.\d+\.\d+\.\d+:\d+ - mid:\d+/, "mid:N").replace(/reply=.*/, "")))].join("\n  "));
closeAll(dev); await nc.close().catch(() => {}); await srv.stop(); process.exit(0);
