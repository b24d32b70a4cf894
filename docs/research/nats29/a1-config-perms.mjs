// A1: config users with per-user permissions + allowed_connection_types MQTT.
// Which permissions does an MQTT client need besides its own subjects, and
// what does a device see when it touches another device's subjects?
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startServer, mqttConnect, pubResult, subResult, closeAll, sleep } from "./lib.mjs";

const up = (id) => ["hello", "hb", "tele", "ctr", "ack", "status"].map((k) => `"xsfleet.v1.dev.${id}.${k}"`).join(",");
const down = (id) => ["cmd", "cfg"].map((k) => `"xsfleet.v1.dev.${id}.${k}"`).join(",");
const variants = {
  // only the device's own subjects
  own: (id) => `{ publish: [${up(id)}], subscribe: [${down(id)}] }`,
  // + the delivery subjects of the JS consumers that back QoS1 subscriptions
  ownPlusMqttSub: (id) => `{ publish: [${up(id)}], subscribe: [${down(id)}, "$MQTT.sub.>"] }`,
};

const conf = (variant) => `
server_name: a1
listen: 127.0.0.1:{{PORT}}
http: 127.0.0.1:{{HTTP}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
accounts {
  FLEET {
    jetstream: enabled
    users: [
      { user: admin, password: admin }
      { user: devA, password: pa, permissions: ${variants[variant]("devA")}, allowed_connection_types: ["MQTT"] }
      { user: devB, password: pb, permissions: ${variants[variant]("devB")}, allowed_connection_types: ["MQTT"] }
      { user: watcher, password: pw, permissions: { subscribe: ["xsfleet.v1.dev.*.status", "$MQTT.sub.>"] }, allowed_connection_types: ["MQTT"] }
    ]
  }
}
`;

async function run(variant) {
  const srv = await startServer(conf(variant), { name: `a1-${variant}` });
  const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });
  const seen = [];
  nc.subscribe("xsfleet.>", { callback: (_e, m) => seen.push(m.subject) });
  nc.subscribe("$MQTT.>", { callback: () => {} });
  const r = {};
  const url = srv.mqttUrl;
  // NATS protocol login of an MQTT-only user is refused?
  r.natsLoginOfMqttOnlyUser = await connect({ servers: srv.url, user: "devA", pass: "pa", reconnect: false })
    .then((c) => { c.close(); return "accepted"; }, (e) => `refused (${e.message})`);

  for (const clean of [true, false]) {
    const tag = clean ? "clean" : "persistent";
    let a;
    try {
      a = await mqttConnect(url, { username: "devA", password: "pa", clientId: `devA-${tag}`, clean,
        will: { topic: "xsfleet/v1/dev/devA/status", payload: Buffer.from("offline"), qos: 1, retain: true } });
    } catch (e) { r[`${tag}.connect`] = `FAILED ${e.message}`; continue; }
    r[`${tag}.connect`] = `ok sessionPresent=${a.connack.sessionPresent}`;
    const rawSubacks = [];
    a.on("packetreceive", (p) => { if (p.cmd === "suback") rawSubacks.push(JSON.stringify(p.granted)); });
    a.on("error", (e) => { r[`${tag}.clientError`] = e.message; });
    r[`${tag}.pub own qos0`] = await pubResult(a, "xsfleet/v1/dev/devA/hb", "x", { qos: 0 });
    r[`${tag}.pub own qos1`] = await pubResult(a, "xsfleet/v1/dev/devA/tele", "x", { qos: 1 });
    r[`${tag}.pub own qos1 retain`] = await pubResult(a, "xsfleet/v1/dev/devA/status", "online", { qos: 1, retain: true });
    r[`${tag}.sub own cmd qos0`] = JSON.stringify(await subResult(a, "xsfleet/v1/dev/devA/cmd", { qos: 0 }));
    r[`${tag}.sub own cfg qos1`] = JSON.stringify(await subResult(a, "xsfleet/v1/dev/devA/cfg", { qos: 1 }));
    // cross-device attempts
    r[`${tag}.pub B tele qos0`] = await pubResult(a, "xsfleet/v1/dev/devB/tele", "evil0", { qos: 0 });
    r[`${tag}.pub B tele qos1`] = await pubResult(a, "xsfleet/v1/dev/devB/tele", "evil1", { qos: 1 });
    r[`${tag}.pub B status qos1 retain`] = await pubResult(a, "xsfleet/v1/dev/devB/status", "evil", { qos: 1, retain: true });
    r[`${tag}.sub B cmd qos0`] = JSON.stringify(await subResult(a, "xsfleet/v1/dev/devB/cmd", { qos: 0 }));
    r[`${tag}.sub wildcard qos0`] = JSON.stringify(await subResult(a, "xsfleet/v1/dev/+/cmd", { qos: 0 }));
    r[`${tag}.sub $MQTT/sub/# qos0`] = JSON.stringify(await subResult(a, "$MQTT/sub/#", { qos: 0 }));
    // does the connection survive the violations?
    r[`${tag}.raw SUBACK return codes`] = rawSubacks.join(" ");
    r[`${tag}.still connected after violations`] = String(a.connected);
    // downlink reaches the device (QoS0 cmd from a cloud NATS publisher)
    const got = new Promise((res) => { a.on("message", (t, p) => { if (t.endsWith("/cmd")) res(`${t}=${p}`); }); setTimeout(() => res("none"), 1500); });
    nc.publish("xsfleet.v1.dev.devA.cmd", "do-it"); nc.publish("xsfleet.v1.dev.devB.cmd", "not-for-A");
    r[`${tag}.downlink received`] = await got;
    // will: kill the socket without DISCONNECT
    const before = seen.length;
    a.stream.destroy();
    await sleep(800);
    r[`${tag}.will delivered on NATS`] = seen.slice(before).filter((s) => s.endsWith("devA.status")).length > 0 ? "yes" : "no";
    closeAll(a);
  }
  // retained message: a watcher subscribing later gets devA's retained status?
  try {
    const w = await mqttConnect(url, { username: "watcher", password: "pw", clientId: "watcher", clean: true });
    const msgs = [];
    w.on("message", (t, p, pk) => msgs.push(`${t}=${p} retain=${pk.retain}`));
    r["watcher sub qos1 granted"] = JSON.stringify(await subResult(w, "xsfleet/v1/dev/+/status", { qos: 1 }));
    await sleep(800);
    r["watcher retained msgs"] = JSON.stringify(msgs);
    closeAll(w);
  } catch (e) { r["watcher"] = `FAILED ${e.message}`; }
  r["NATS subjects seen by admin"] = JSON.stringify([...new Set(seen)]);
  const jsm = await jetstreamManager(nc);
  const names = []; for await (const s of jsm.streams.list()) names.push(`${s.config.name}(${s.state.messages} msgs)`);
  r["streams"] = names.join(" ");
  const viol = srv.log.split("\n").filter((l) => /Violation|Unable to add|Unable to create|Error/.test(l)).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, ""));
  r["server log (violations/errors)"] = "\n    " + [...new Set(viol)].slice(0, 14).join("\n    ");
  await nc.close();
  await srv.stop();
  console.log(`\n=== variant ${variant} ===`);
  for (const [k, v] of Object.entries(r)) console.log(`${k}: ${v}`);
}

for (const v of Object.keys(variants)) await run(v);
