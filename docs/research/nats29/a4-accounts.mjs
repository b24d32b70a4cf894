// A4: devices in account DEV (MQTT), streams in account CLOUD via
// exports/imports. Does a CLOUD stream capture MQTT QoS1 uplinks imported
// from DEV, and do CLOUD downlinks reach the device?
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startServer, mqttConnect, pubResult, subResult, closeAll, sleep } from "./lib.mjs";
const srv = await startServer(`server_name: a4
listen: 127.0.0.1:{{PORT}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
accounts {
  DEV {
    jetstream: enabled
    users: [ { user: d1, password: p, permissions: { publish: ["xsfleet.v1.dev.d1.>"], subscribe: ["xsfleet.v1.dev.d1.cmd"] }, allowed_connection_types: ["MQTT"] } ]
    exports: [ { stream: "xsfleet.v1.dev.*.tele" }, { stream: "xsfleet.v1.dev.*.hb" } ]
    imports: [ { stream: { account: CLOUD, subject: "xsfleet.v1.dev.*.cmd" } } ]
  }
  CLOUD {
    jetstream: enabled
    users: [ { user: ingest, password: p } ]
    exports: [ { stream: "xsfleet.v1.dev.*.cmd" } ]
    imports: [ { stream: { account: DEV, subject: "xsfleet.v1.dev.*.tele" } }, { stream: { account: DEV, subject: "xsfleet.v1.dev.*.hb" } } ]
  }
}`, { name: "a4" });
const nc = await connect({ servers: srv.url, user: "ingest", pass: "p" });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: "XSF_TELE", subjects: ["xsfleet.v1.dev.*.tele"] });
const d = await mqttConnect(srv.mqttUrl, { username: "d1", password: "p", clientId: "d1", clean: true });
const got = []; d.on("message", (t, p) => got.push(`${t}=${p}`));
console.log("device sub cmd:", JSON.stringify(await subResult(d, "xsfleet/v1/dev/d1/cmd", { qos: 0 })));
console.log("device QoS1 tele:", await pubResult(d, "xsfleet/v1/dev/d1/tele", "t1", { qos: 1 }));
await sleep(300);
console.log("CLOUD XSF_TELE msgs:", (await jsm.streams.info("XSF_TELE")).state.messages);
nc.publish("xsfleet.v1.dev.d1.cmd", "reboot"); await nc.flush(); await sleep(300);
console.log("downlink received by device:", JSON.stringify(got));
const names = []; for await (const s of jsm.streams.list()) names.push(s.config.name);
console.log("streams visible in CLOUD:", names.join(","), "(the $MQTT_* streams live in DEV)");
closeAll(d); await nc.close(); await srv.stop(); process.exit(0);
