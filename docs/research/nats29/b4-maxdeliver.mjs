// B4: MAX_DELIVERIES advisory for a pull consumer with explicit ack on 2.9.10.
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { startServer, sleep } from "./lib.mjs";

const srv = await startServer(`server_name: b4\nlisten: 127.0.0.1:{{PORT}}\njetstream { store_dir: "{{STORE}}" }\naccounts { FLEET { jetstream: enabled, users: [ { user: admin, password: admin } ] } }`, { name: "b4" });
const nc = await connect({ servers: srv.url, user: "admin", pass: "admin" });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: "XSF_TELE", subjects: ["xsfleet.v1.dev.*.tele"] });
await jsm.consumers.add("XSF_TELE", { durable_name: "ingest", ack_policy: "explicit", max_deliver: 3, ack_wait: 30_000_000_000 });
const adv = [];
nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.XSF_TELE.ingest", { callback: (_e, m) => adv.push({ at: performance.now(), subject: m.subject, body: m.json() }) });
const js = jetstream(nc);
await js.publish("xsfleet.v1.dev.d1.tele", "poison");
await js.publish("xsfleet.v1.dev.d1.tele", "good");
const c = await js.consumers.get("XSF_TELE", "ingest");
const log = [];
for (let round = 1; round <= 4; round++) {
  const msgs = await c.fetch({ max_messages: 1, expires: 1500 });
  let got = false;
  for await (const m of msgs) {
    got = true;
    const body = m.string();
    log.push(`fetch ${round}: "${body}" stream_seq=${m.seq} deliveryCount=${m.info.deliveryCount}`);
    if (body === "poison") m.nak(); else m.ack();
  }
  if (!got) log.push(`fetch ${round}: nothing`);
  await sleep(300);
  log.push(`  advisories so far: ${adv.length}`);
}
console.log(log.join("\n"));
for (const a of adv) console.log("advisory on", a.subject, "\n ", JSON.stringify(a.body));
if (adv[0]) {
  const m = await jsm.streams.getMessage("XSF_TELE", { seq: adv[0].body.stream_seq });
  console.log(`dead-letter handler: STREAM.MSG.GET seq ${adv[0].body.stream_seq} -> subject ${m.subject} data "${m.string()}"`);
}
const ci = await jsm.consumers.info("XSF_TELE", "ingest");
console.log(`consumer after: ack_floor.stream_seq=${ci.ack_floor.stream_seq} num_ack_pending=${ci.num_ack_pending} num_redelivered=${ci.num_redelivered} num_pending=${ci.num_pending}`);
await nc.close(); await srv.stop(); process.exit(0);
