// C1b: is the MQTT will subject mapped (and permission-checked) like a PUBLISH?
import { connect } from "@nats-io/transport-node";
import { startServer, mqttConnect, pubResult, closeAll, sleep } from "./lib.mjs";
const srv = await startServer(`server_name: c1b
listen: 127.0.0.1:{{PORT}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
accounts { FLEET { jetstream: enabled
  mappings: { "xsfleet.v1.dev.*.status": "xsfleet.v1.p.{{partition(16,1)}}.dev.{{wildcard(1)}}.status" }
  users: [ { user: admin, password: admin }
    { user: d1, password: p, permissions: { publish: ["xsfleet.v1.p.6.dev.d1.status"] }, allowed_connection_types: ["MQTT"] } ] } }`, { name: "c1b" });
const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });
const seen = []; nc.subscribe("xsfleet.>", { callback: (_e, m) => seen.push(`${m.subject}=${m.string()}`) }); await nc.flush();
const d = await mqttConnect(srv.mqttUrl, { username: "d1", password: "p", clientId: "d1", will: { topic: "xsfleet/v1/dev/d1/status", payload: Buffer.from("offline"), qos: 1, retain: false } });
console.log("PUBLISH status:", await pubResult(d, "xsfleet/v1/dev/d1/status", "online", { qos: 1 }));
d.stream.destroy(); await sleep(800);
console.log("NATS saw:", JSON.stringify(seen));
console.log("log:", srv.log.split("\n").filter((l) => /Violation/.test(l)).map((l) => l.replace(/^.*Violation - /, "")).join(" | "));
await nc.close(); await srv.stop(); process.exit(0);
