// A1b: MQTT sessions are keyed by client ID per account, not by user. Can
// device B (own credentials) take over device A's client ID / session?
// Also: does a persistent session restore A's cmd subscription on reconnect?
import { connect } from "@nats-io/transport-node";
import { startServer, mqttConnect, subResult, closeAll, sleep } from "./lib.mjs";

const perms = (id) => `{ publish: ["xsfleet.v1.dev.${id}.>"], subscribe: ["xsfleet.v1.dev.${id}.cmd", "$MQTT.sub.>"] }`;
const srv = await startServer(`
server_name: a1b
listen: 127.0.0.1:{{PORT}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
accounts { FLEET { jetstream: enabled, users: [
  { user: admin, password: admin }
  { user: devA, password: pa, permissions: ${perms("devA")}, allowed_connection_types: ["MQTT"] }
  { user: devB, password: pb, permissions: ${perms("devB")}, allowed_connection_types: ["MQTT"] }
] } }`, { name: "a1b" });
const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });

const a = await mqttConnect(srv.mqttUrl, { username: "devA", password: "pa", clientId: "devA", clean: false });
console.log("A subscribe own cmd qos0:", JSON.stringify(await subResult(a, "xsfleet/v1/dev/devA/cmd", { qos: 0 })));
let aClosed = false; a.on("close", () => { aClosed = true; });
// B logs in with ITS credentials but A's client id
const b = await mqttConnect(srv.mqttUrl, { username: "devB", password: "pb", clientId: "devA", clean: false });
await sleep(500);
console.log("B connected with clientId devA: sessionPresent =", b.connack.sessionPresent, "; A closed =", aClosed);
const bGot = [];
b.on("message", (t, p) => bGot.push(`${t}=${p}`));
nc.publish("xsfleet.v1.dev.devA.cmd", "secret-for-A");
await sleep(500);
console.log("B received A's cmd via inherited session:", JSON.stringify(bGot));
console.log("server log:", srv.log.split("\n").filter((l) => /Replacing|Violation/.test(l)).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, "")).join("\n   "));
closeAll(b);
await sleep(1200); // flapper jail is 1s
// persistent session of A restores its subscription
const a2 = await mqttConnect(srv.mqttUrl, { username: "devA", password: "pa", clientId: "devA", clean: false });
const aGot = [];
a2.on("message", (t, p) => aGot.push(`${t}=${p}`));
await sleep(300);
nc.publish("xsfleet.v1.dev.devA.cmd", "second");
await sleep(500);
console.log("A reconnect sessionPresent =", a2.connack.sessionPresent, "; received without re-subscribing:", JSON.stringify(aGot));
closeAll(a, a2);
await nc.close();
await srv.stop();
