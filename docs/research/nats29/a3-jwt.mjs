// A3: operator/JWT mode for MQTT devices on nats-server 2.9.10.
//  - MQTT CONNECT password = user JWT (username any non-empty string)
//  - bearer_token required? permissions enforced like config users?
//  - revocation via account JWT `revocations` with the MEMORY resolver (+SIGHUP)
//    and the full nats-based resolver ($SYS.REQ.CLAIMS.UPDATE push)
//  - retained messages across a config reload in operator mode
// usage: node a3-jwt.mjs memory|full
import { connect, jwtAuthenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createOperator, createAccount, createUser, encodeOperator, encodeAccount, encodeUser } from "@nats-io/jwt";
import { startServer, mqttConnect, pubResult, subResult, closeAll, sleep } from "./lib.mjs";

const mode = process.argv[2] ?? "memory";
const enc = new TextEncoder();
const NOLIMIT = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const JS = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

const okp = createOperator(), sysKp = createAccount(), accKp = createAccount();
const opJwt = await encodeOperator("OP", okp, { system_account: sysKp.getPublicKey() });
const sysJwt = await encodeAccount("SYS", sysKp, { limits: NOLIMIT }, { signer: okp });
const fleetClaims = { limits: { ...NOLIMIT, ...JS } };
let fleetJwt = await encodeAccount("FLEET", accKp, fleetClaims, { signer: okp });

const devPerms = (id) => ({
  pub: { allow: ["hello", "hb", "tele", "ctr", "ack", "status"].map((k) => `xsfleet.v1.dev.${id}.${k}`) },
  sub: { allow: [`xsfleet.v1.dev.${id}.cmd`, `xsfleet.v1.dev.${id}.cfg`, "$MQTT.sub.>"] },
});
async function deviceJwt(id, { bearer = true, kp = createUser() } = {}) {
  const jwt = await encodeUser(id, kp, accKp, { ...devPerms(id), bearer_token: bearer, allowed_connection_types: ["MQTT"] });
  return { jwt, kp };
}

const conf = (preload) => `
server_name: a3${mode}
listen: 127.0.0.1:{{PORT}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
operator: ${opJwt}
system_account: ${sysKp.getPublicKey()}
${mode === "memory" ? "resolver: MEMORY" : `resolver: { type: full, dir: "{{DIR}}/jwt-${mode}", allow_delete: false, interval: "2m" }`}
resolver_preload: { ${Object.entries(preload).map(([k, v]) => `${k}: ${v}`).join("\n ")} }
`;
const preloadFor = () => (mode === "memory"
  ? { [sysKp.getPublicKey()]: sysJwt, [accKp.getPublicKey()]: fleetJwt }
  : { [sysKp.getPublicKey()]: sysJwt });

const srv = await startServer(conf(preloadFor()), { name: `a3-${mode}` });
const r = new Proxy({}, { set(t, k, v) { t[k] = v; console.log(`${String(k)}: ${v}`); return true; } });
console.log(`=== resolver ${mode} ===`);
// cloud-side users: a SYS user (for claim pushes) and a FLEET admin
const sysUser = createUser();
const sysUserJwt = await encodeUser("sys", sysUser, sysKp, {});
const sysNc = await connect({ servers: srv.url, authenticator: jwtAuthenticator(sysUserJwt, sysUser.getSeed()) });
async function pushAccount(jwt) {
  const m = await sysNc.request("$SYS.REQ.CLAIMS.UPDATE", enc.encode(jwt), { timeout: 5000 });
  return m.string();
}
if (mode === "full") r["push FLEET account"] = await pushAccount(fleetJwt);
const adminKp = createUser();
const adminJwt = await encodeUser("admin", adminKp, accKp, {});
const nc = await connect({ servers: srv.url, authenticator: jwtAuthenticator(adminJwt, adminKp.getSeed()) });
const seen = []; nc.subscribe("xsfleet.>", { callback: (_e, m) => seen.push(m.subject) });

// --- authentication variants
const A = await deviceJwt("devA");
const nonBearer = await deviceJwt("devN", { bearer: false });
const t0 = performance.now();
let a = await mqttConnect(srv.mqttUrl, { username: "jwt", password: A.jwt, clientId: "devA", clean: false });
r["MQTT connect, password=bearer user JWT"] = `accepted in ${(performance.now() - t0).toFixed(1)} ms`;
r["MQTT connect, password=NON-bearer user JWT"] = await mqttConnect(srv.mqttUrl, { username: "jwt", password: nonBearer.jwt, clientId: "devN" })
  .then((c) => { c.end(true); return "accepted"; }, (e) => `refused: ${e.message}`);
r["MQTT connect, garbage password"] = await mqttConnect(srv.mqttUrl, { username: "jwt", password: "nope", clientId: "devX" })
  .then((c) => { c.end(true); return "accepted"; }, (e) => `refused: ${e.message}`);
r["NATS connect with the bearer MQTT-only JWT"] = await connect({ servers: srv.url, authenticator: jwtAuthenticator(A.jwt), reconnect: false })
  .then((c) => { c.close(); return "accepted"; }, (e) => `refused: ${e.message}`);

// --- permissions, same checks as A1
r["pub own tele qos1"] = await pubResult(a, "xsfleet/v1/dev/devA/tele", "x", { qos: 1 });
r["pub own status qos1 retain"] = await pubResult(a, "xsfleet/v1/dev/devA/status", "online", { qos: 1, retain: true });
r["pub B tele qos1"] = await pubResult(a, "xsfleet/v1/dev/devB/tele", "evil", { qos: 1 });
r["sub own cmd qos0 / cfg qos1"] = JSON.stringify(await subResult(a, "xsfleet/v1/dev/devA/cmd", { qos: 0 })) + " " + JSON.stringify(await subResult(a, "xsfleet/v1/dev/devA/cfg", { qos: 1 }));
r["sub B cmd qos0"] = JSON.stringify(await subResult(a, "xsfleet/v1/dev/devB/cmd", { qos: 0 }));
await sleep(200);
r["subjects on NATS"] = JSON.stringify([...new Set(seen)]);

const jsm = await jetstreamManager(nc);
const rmsgs = async () => jsm.streams.info("$MQTT_rmsgs").then((i) => i.state.messages, (e) => `JS API error: ${e.message}`);
r["$MQTT_rmsgs before any reload"] = await rmsgs();

// --- revocation
let closedAt = 0; a.on("close", () => { closedAt ||= performance.now(); });
const revokedAt = Math.floor(Date.now() / 1000);
fleetJwt = await encodeAccount("FLEET", accKp, { ...fleetClaims, revocations: { [A.kp.getPublicKey()]: revokedAt } }, { signer: okp });
const t1 = performance.now();
if (mode === "memory") {
  srv.rewrite(conf(preloadFor()));
  r["reload (MEMORY resolver) ms"] = (await srv.reload()).toFixed(1);
} else {
  r["push revoked FLEET account"] = await pushAccount(fleetJwt);
}
while (!closedAt && performance.now() - t1 < 5000) await sleep(1);
r["revoked client closed after"] = closedAt ? `${(closedAt - t1).toFixed(1)} ms` : "NOT within 5 s";
r["reconnect with revoked JWT"] = await mqttConnect(srv.mqttUrl, { username: "jwt", password: A.jwt, clientId: "devA" })
  .then((c) => { c.end(true); return "accepted"; }, (e) => `refused: ${e.message}`);
await sleep(1100); // iat has 1 s resolution; revocation covers iat <= revokedAt
const A2 = await deviceJwt("devA", { kp: A.kp });
r["reconnect with re-issued JWT (same key, later iat)"] = await mqttConnect(srv.mqttUrl, { username: "jwt", password: A2.jwt, clientId: "devA" })
  .then((c) => { c.end(true); return "accepted"; }, (e) => `refused: ${e.message}`);
r["$MQTT_rmsgs after revocation"] = await rmsgs();
if (mode === "full") {
  // a plain config reload in operator mode: do retained messages survive?
  const b = await mqttConnect(srv.mqttUrl, { username: "jwt", password: (await deviceJwt("devB")).jwt, clientId: "devB" });
  await pubResult(b, "xsfleet/v1/dev/devB/status", "online", { qos: 1, retain: true });
  r["$MQTT_rmsgs before SIGHUP"] = await rmsgs();
  await srv.reload();
  await sleep(300);
  r["$MQTT_rmsgs after SIGHUP"] = await rmsgs();
  closeAll(b);
}
r["server log"] = "\n   " + srv.log.split("\n").filter((l) => /Revoked|revoked|Authorization|retained|Violation|JWT/i.test(l)).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, "")).slice(0, 12).join("\n   ");

// --- costs: issuing user JWTs in Node, MQTT connect time
const N = 2000;
const t2 = performance.now();
const many = [];
for (let i = 0; i < N; i++) many.push(await deviceJwt(`d${i}`));
r[`issue ${N} user JWTs (createUser + encodeUser)`] = `${((performance.now() - t2) / N).toFixed(3)} ms each, JWT ${many[0].jwt.length} bytes`;
const t3 = performance.now();
const cs = [];
for (let i = 0; i < 200; i++) cs.push(await mqttConnect(srv.mqttUrl, { username: "jwt", password: many[i].jwt, clientId: `d${i}`, clean: true }));
r["MQTT connect with JWT, sequential"] = `${((performance.now() - t3) / 200).toFixed(2)} ms/connect`;
closeAll(a, ...cs);
await nc.close(); await sysNc.close(); await srv.stop();
process.exit(0);
