// D: per-client limits that apply to MQTT clients on 2.9.10.
// server max_subscriptions (per connection) and an unthrottled publish burst.
import { connect } from "@nats-io/transport-node";
import { startServer, mqttConnect, subResult, closeAll, sleep } from "./lib.mjs";
const srv = await startServer(`server_name: d\nlisten: 127.0.0.1:{{PORT}}\nmax_subscriptions: 3\njetstream { store_dir: "{{STORE}}" }\nmqtt { listen: 127.0.0.1:{{MQTT}} }\naccounts { FLEET { jetstream: enabled, users: [ { user: admin, password: admin }, { user: dev, password: dev, allowed_connection_types: ["MQTT"] } ] } }`, { name: "d" });
const d = await mqttConnect(srv.mqttUrl, { username: "dev", password: "dev", clientId: "d1", clean: true });
const raw = []; d.on("packetreceive", (p) => { if (p.cmd === "suback") raw.push(JSON.stringify(p.granted)); });
await subResult(d, "a/1", { qos: 0 }); await subResult(d, "a/2", { qos: 1 }); await subResult(d, "a/3", { qos: 0 }); await subResult(d, "a/4", { qos: 0 });
console.log("max_subscriptions 3; SUBACK codes for a/1 q0, a/2 q1, a/3 q0, a/4 q0:", raw.join(" "), "; connected:", d.connected);
console.log("log:", srv.log.split("\n").filter((l) => /maximum subscriptions|Subscriptions/i.test(l)).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, "")).slice(0, 3).join(" | "));
const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });
let n = 0; nc.subscribe("burst.>", { callback: () => n++ }); await nc.flush();
const t = performance.now(); const N = 20000;
for (let i = 0; i < N; i++) d.publish("burst/x", "0123456789", { qos: 0 });
while (n < N && performance.now() - t < 20000) await sleep(20);
console.log(`QoS0 burst from one MQTT client: ${n}/${N} delivered in ${(performance.now() - t).toFixed(0)} ms (${(n / ((performance.now() - t) / 1000)).toFixed(0)} msg/s), no broker throttling`);
closeAll(d); await nc.close(); await srv.stop(); process.exit(0);
