// A3b: after a SIGHUP reload, does JetStream keep working for the account
// (JS API requests, JS publish, MQTT QoS1 publish of an existing and a new
// MQTT client)? Auth modes: config accounts | operator+MEMORY | operator+full.
// usage: node a3b-reload-js.mjs config|memory|full
import { connect, jwtAuthenticator } from "@nats-io/transport-node";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { createOperator, createAccount, createUser, encodeOperator, encodeAccount, encodeUser } from "@nats-io/jwt";
import { startServer, mqttConnect, pubResult, closeAll, sleep } from "./lib.mjs";

const mode = process.argv[2] ?? "memory";
const NOLIMIT = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const okp = createOperator(), sysKp = createAccount(), accKp = createAccount();
const opJwt = await encodeOperator("OP", okp, { system_account: sysKp.getPublicKey() });
const sysJwt = await encodeAccount("SYS", sysKp, { limits: NOLIMIT }, { signer: okp });
const fleetJwt = await encodeAccount("FLEET", accKp, { limits: { ...NOLIMIT, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } }, { signer: okp });
const head = `
server_name: a3b${mode}
listen: 127.0.0.1:{{PORT}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
`;
const conf = {
  config: `${head}
accounts { FLEET { jetstream: enabled, users: [ { user: admin, password: admin }, { user: dev, password: dev, allowed_connection_types: ["MQTT"] } ] } }`,
  memory: `${head}
operator: ${opJwt}
system_account: ${sysKp.getPublicKey()}
resolver: MEMORY
resolver_preload: { ${sysKp.getPublicKey()}: ${sysJwt}
 ${accKp.getPublicKey()}: ${fleetJwt} }`,
  full: `${head}
operator: ${opJwt}
system_account: ${sysKp.getPublicKey()}
resolver: { type: full, dir: "{{DIR}}/jwt", allow_delete: false, interval: "2m" }
resolver_preload: { ${sysKp.getPublicKey()}: ${sysJwt} }`,
}[mode];
const srv = await startServer(conf, { name: `a3b-${mode}`, extraArgs: process.env.TRACE ? ["-DV"] : [] });

let adminOpts, devUser;
if (mode === "config") {
  adminOpts = { user: "admin", pass: "admin" };
  devUser = { username: "dev", password: "dev" };
} else {
  if (mode === "full") {
    const su = createUser();
    const snc = await connect({ servers: srv.url, authenticator: jwtAuthenticator(await encodeUser("sys", su, sysKp, {}), su.getSeed()) });
    await snc.request("$SYS.REQ.CLAIMS.UPDATE", new TextEncoder().encode(fleetJwt), { timeout: 5000 });
    await snc.close();
  }
  const adminKp = createUser();
  adminOpts = { authenticator: jwtAuthenticator(await encodeUser("admin", adminKp, accKp, {}), adminKp.getSeed()) };
  devUser = { username: "x", password: await encodeUser("d", createUser(), accKp, { bearer_token: true, allowed_connection_types: ["MQTT"] }) };
}
const nc = await connect({ servers: srv.url, ...adminOpts });
const jsm = await jetstreamManager(nc, { timeout: 3000 });
await jsm.streams.add({ name: "T", subjects: ["t.>"] });
const probe = async (label, conn) => {
  const m = await jetstreamManager(conn, { timeout: 3000, checkAPI: false });
  const info = await m.getAccountInfo().then((i) => `ok streams=${i.streams}`, (e) => `ERROR ${e.message}`);
  const pub = await jetstream(conn, { timeout: 3000 }).publish("t.x", "1").then((a) => `ok seq=${a.seq}`, (e) => `ERROR ${e.message}`);
  console.log(`${label}: JS API account info ${info}; JS publish ${pub}`);
};
const d = await mqttConnect(srv.mqttUrl, { ...devUser, clientId: "d", clean: false });
let dClosed = false; d.on("close", () => { dClosed = true; });
await probe("before reload", nc);
console.log("  MQTT qos1 publish:", await pubResult(d, "t/y", "1", { qos: 1 }, 6000));
console.log(`=== ${mode}: SIGHUP (config unchanged) took ${(await srv.reload()).toFixed(1)} ms`);
await sleep(300);
await probe("after reload, existing NATS conn", nc);
const nc2 = await connect({ servers: srv.url, ...adminOpts });
await probe("after reload, new NATS conn", nc2);
console.log("  existing MQTT client closed by reload:", dClosed);
if (!dClosed) console.log("  existing MQTT client qos1 publish:", await pubResult(d, "t/y", "1", { qos: 1 }, 6000));
const d2 = await mqttConnect(srv.mqttUrl, { ...devUser, clientId: "d2", clean: false }).catch((e) => e);
console.log("  new MQTT client connect:", d2 instanceof Error ? `refused ${d2.message}` : "ok");
if (!(d2 instanceof Error)) console.log("  new MQTT client qos1 publish:", await pubResult(d2, "t/y", "1", { qos: 1 }, 6000));
console.log("server ERR/WRN after start:\n  " + srv.log.split("\n").filter((l) => /\[(ERR|WRN)\]/.test(l) && !/Plaintext/.test(l)).slice(0, 8).map((l) => l.replace(/^\[\d+\] \S+ \S+ /, "")).join("\n  "));
closeAll(d, d2); await nc.close(); await nc2.close(); await srv.stop();
process.exit(0);
