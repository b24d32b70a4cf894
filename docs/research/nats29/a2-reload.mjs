// A2: config reload (SIGHUP) to add/remove MQTT users without restart.
// Part 1: is a connected MQTT client whose user was removed disconnected, how fast?
//         does a permission change apply to a connected client?
// Part 2: cost of startup/reload with N users (plain vs bcrypt) and with C
//         connected MQTT clients (reload re-authenticates every client).
// usage: node a2-reload.mjs [part1|part2] [N...]
import { connect } from "@nats-io/transport-node";
import bcrypt from "bcryptjs";
import { startServer, mqttConnect, pubResult, closeAll, sleep, rssKb } from "./lib.mjs";

const devPerm = (id) => `{ publish: [${["hello", "hb", "tele", "ctr", "ack", "status"].map((k) => `"xsfleet.v1.dev.${id}.${k}"`).join(",")}], subscribe: ["xsfleet.v1.dev.${id}.cmd", "xsfleet.v1.dev.${id}.cfg", "$MQTT.sub.>"] }`;
const head = (name) => `
server_name: ${name}
listen: 127.0.0.1:{{PORT}}
http: 127.0.0.1:{{HTTP}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
`;
const confWith = (name, users) => `${head(name)}
accounts { FLEET { jetstream: enabled, users: [
  { user: admin, password: admin }
${users.join("\n")}
] } }`;
const userLine = (id, pass) => `  { user: ${id}, password: "${pass}", permissions: ${devPerm(id)}, allowed_connection_types: ["MQTT"] }`;

async function part1() {
  const users = ["devA", "devB"].map((u) => userLine(u, "p"));
  const srv = await startServer(confWith("a2p1", users), { name: "a2p1" });
  const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });
  const seen = []; nc.subscribe("xsfleet.>", { callback: (_e, m) => seen.push(m.subject) });
  const a = await mqttConnect(srv.mqttUrl, { username: "devA", password: "p", clientId: "devA", clean: false });
  const b = await mqttConnect(srv.mqttUrl, { username: "devB", password: "p", clientId: "devB", clean: true });
  let aClosedAt = 0; a.on("close", () => { aClosedAt ||= performance.now(); });
  // remove devA, narrow devB to no publish on tele, add devC
  srv.rewrite(confWith("a2p1", [
    `  { user: devB, password: "p", permissions: { publish: ["xsfleet.v1.dev.devB.hb"], subscribe: ["xsfleet.v1.dev.devB.cmd"] }, allowed_connection_types: ["MQTT"] }`,
    userLine("devC", "p")]));
  const t0 = performance.now();
  const reloadMs = await srv.reload();
  while (!aClosedAt && performance.now() - t0 < 5000) await sleep(1);
  console.log(`reload took ${reloadMs.toFixed(1)} ms; removed user's MQTT client closed after ${aClosedAt ? (aClosedAt - t0).toFixed(1) + " ms" : "NOT within 5 s"}`);
  console.log("server log:", srv.log.split("\n").filter((l) => /devA|Authorization|Reloaded/.test(l)).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, "")).join("\n   "));
  const r = await mqttConnect(srv.mqttUrl, { username: "devA", password: "p", clientId: "devA2" }).then(() => "accepted", (e) => `refused: ${e.message}`);
  console.log("removed user reconnect:", r);
  const c = await mqttConnect(srv.mqttUrl, { username: "devC", password: "p", clientId: "devC" }).then(() => "accepted", (e) => `refused: ${e.message}`);
  console.log("added user connect:", c);
  // narrowed permissions on a still-connected client
  console.log("devB still connected:", b.connected);
  const before = seen.length;
  console.log("devB pub tele qos1 after narrowing:", await pubResult(b, "xsfleet/v1/dev/devB/tele", "x", { qos: 1 }));
  console.log("devB pub hb qos1 after narrowing:", await pubResult(b, "xsfleet/v1/dev/devB/hb", "x", { qos: 1 }));
  await sleep(200);
  console.log("subjects that reached NATS:", JSON.stringify(seen.slice(before)));
  closeAll(a, b); await nc.close(); await srv.stop();
}

async function part2(ns) {
  const plainPass = "device-secret-0123456789";
  const t0 = performance.now();
  const bc10 = bcrypt.hashSync(plainPass, 10);
  const bc11 = bcrypt.hashSync(plainPass, 11);
  console.log(`bcryptjs hash cost10 one-off: ${(performance.now() - t0).toFixed(0)} ms for 2 hashes (same hash reused for all users: the server never verifies at load)`);
  for (const n of ns) {
    for (const [kind, pass] of [["plain", plainPass], ["bcrypt10", bc10], ["bcrypt11", bc11]]) {
      if (kind === "bcrypt11" && n > 10000) continue;
      const users = [];
      for (let i = 0; i < n; i++) users.push(userLine(`d${String(i).padStart(6, "0")}`, pass));
      const body = confWith("a2p2", users);
      const t1 = performance.now();
      const srv = await startServer(body, { name: `a2-${kind}-${n}` });
      const startMs = performance.now() - t1;
      await sleep(300);
      const rss0 = rssKb(srv.proc.pid);
      const reload0 = await srv.reload();
      const rss1 = rssKb(srv.proc.pid);
      // connect C MQTT clients, then reload again (each connected client is re-authorized)
      const C = 200;
      const t2 = performance.now();
      const clients = [];
      for (let i = 0; i < C; i += 20) {
        const batch = [];
        for (let j = i; j < Math.min(C, i + 20); j++) {
          const id = `d${String(j).padStart(6, "0")}`;
          batch.push(mqttConnect(srv.mqttUrl, { username: id, password: plainPass, clientId: id, clean: true, connectTimeout: 60000 }));
        }
        clients.push(...await Promise.all(batch));
      }
      const connMs = (performance.now() - t2) / C;
      const reloadC = await srv.reload();
      const rss2 = rssKb(srv.proc.pid);
      const stillUp = clients.filter((c) => c.connected).length;
      console.log(`N=${n} ${kind}: config ${(body.length / 1e6).toFixed(1)} MB, start ${startMs.toFixed(0)} ms, RSS ${(rss0 / 1024).toFixed(0)} MB; ` +
        `reload(0 conns) ${reload0.toFixed(0)} ms, RSS ${(rss1 / 1024).toFixed(0)} MB; MQTT connect ${connMs.toFixed(1)} ms/client (serial batches of 20); ` +
        `reload(${C} MQTT conns) ${reloadC.toFixed(0)} ms, RSS ${(rss2 / 1024).toFixed(0)} MB, still connected ${stillUp}/${C}`);
      closeAll(...clients);
      await srv.stop();
    }
  }
}

const [mode = "part1", ...rest] = process.argv.slice(2);
if (mode === "part1") await part1();
else await part2(rest.length ? rest.map(Number) : [10000, 100000]);
process.exit(0);
