// A3d: cost of issuing a device user JWT in Node with @nats-io/jwt 0.0.11 (+ @nats-io/nkeys 2.0.3).
import { createAccount, createUser, encodeUser } from "@nats-io/jwt";
const accKp = createAccount();
const N = Number(process.argv[2] ?? 300);
let t = performance.now();
const kps = []; for (let i = 0; i < N; i++) kps.push(createUser());
const tKey = (performance.now() - t) / N;
t = performance.now();
let jwt;
for (let i = 0; i < N; i++) jwt = await encodeUser(`d${i}`, kps[i], accKp, {
  pub: { allow: ["hello", "hb", "tele", "ctr", "ack", "status"].map((k) => `xsfleet.v1.dev.d${i}.${k}`) },
  sub: { allow: [`xsfleet.v1.dev.d${i}.cmd`, `xsfleet.v1.dev.d${i}.cfg`, "$MQTT.sub.>"] },
  bearer_token: true, allowed_connection_types: ["MQTT"] });
const tSign = (performance.now() - t) / N;
console.log(`N=${N}: createUser ${tKey.toFixed(2)} ms, encodeUser (sign) ${tSign.toFixed(2)} ms, JWT ${jwt.length} bytes`);
