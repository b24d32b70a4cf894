// A3c: retained MQTT messages across a SIGHUP in operator mode (full resolver).
// mqtt.go mqttCheckPubRetainedPerms looks the retained message's Source
// (the MQTT username) up in the *config* users map; in operator mode that map
// is empty. Does a reload delete every retained message?
import { connect, jwtAuthenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createOperator, createAccount, createUser, encodeOperator, encodeAccount, encodeUser } from "@nats-io/jwt";
import { startServer, mqttConnect, pubResult, subResult, closeAll, sleep } from "./lib.mjs";

const NOLIMIT = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
const okp = createOperator(), sysKp = createAccount(), accKp = createAccount();
const opJwt = await encodeOperator("OP", okp, { system_account: sysKp.getPublicKey() });
const sysJwt = await encodeAccount("SYS", sysKp, { limits: NOLIMIT }, { signer: okp });
const fleetJwt = await encodeAccount("FLEET", accKp, { limits: { ...NOLIMIT, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } }, { signer: okp });
const srv = await startServer(`
server_name: a3c
listen: 127.0.0.1:{{PORT}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}} }
operator: ${opJwt}
system_account: ${sysKp.getPublicKey()}
resolver: { type: full, dir: "{{DIR}}/jwt", allow_delete: false, interval: "2m" }
resolver_preload: { ${sysKp.getPublicKey()}: ${sysJwt} }`, { name: "a3c" });
const su = createUser();
const snc = await connect({ servers: srv.url, authenticator: jwtAuthenticator(await encodeUser("sys", su, sysKp, {}), su.getSeed()) });
await snc.request("$SYS.REQ.CLAIMS.UPDATE", new TextEncoder().encode(fleetJwt), { timeout: 5000 });
const adminKp = createUser();
const adminJwt = await encodeUser("admin", adminKp, accKp, {});
const admin = async () => connect({ servers: srv.url, authenticator: jwtAuthenticator(adminJwt, adminKp.getSeed()) });
const rmsgs = async () => { const nc = await admin(); const n = (await (await jetstreamManager(nc)).streams.info("$MQTT_rmsgs")).state.messages; await nc.close(); return n; };
const devJwt = await encodeUser("d", createUser(), accKp, { bearer_token: true, allowed_connection_types: ["MQTT"] });
const d = await mqttConnect(srv.mqttUrl, { username: "dev-1", password: devJwt, clientId: "dev-1" });
console.log("retained publish:", await pubResult(d, "xsfleet/v1/dev/dev-1/status", "online", { qos: 1, retain: true }));
closeAll(d);
const retainedSeen = async () => {
  const w = await mqttConnect(srv.mqttUrl, { username: "w", password: devJwt, clientId: `w${Date.now()}` });
  const got = []; w.on("message", (t, p, pk) => got.push(`${t}=${p} retain=${pk.retain}`));
  await subResult(w, "xsfleet/v1/dev/+/status", { qos: 0 });
  await sleep(500); closeAll(w); return JSON.stringify(got);
};
console.log("before SIGHUP: $MQTT_rmsgs =", await rmsgs(), "; new subscriber gets", await retainedSeen());
await srv.reload(); await sleep(500);
console.log("after SIGHUP:  $MQTT_rmsgs =", await rmsgs(), "; new subscriber gets", await retainedSeen());
await snc.close(); await srv.stop();
process.exit(0);
