// C2: 2.9 has no stream subject transforms; does stream RePublish accept a
// {{partition()}} destination (it uses the same transform code as mappings)?
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { startServer, sleep } from "./lib.mjs";
const srv = await startServer(`server_name: c2\nlisten: 127.0.0.1:{{PORT}}\njetstream { store_dir: "{{STORE}}" }`, { name: "c2" });
const nc = await connect({ servers: srv.url });
const jsm = await jetstreamManager(nc);
const r = await jsm.streams.add({ name: "XSF_RAW", subjects: ["xsfleet.v1.dev.*.tele"],
  republish: { src: "xsfleet.v1.dev.*.tele", dest: "xsfleet.v1.p.{{partition(16,1)}}.dev.{{wildcard(1)}}.tele" } })
  .then((si) => `created, republish=${JSON.stringify(si.config.republish)}`, (e) => `refused: ${e.message}`);
console.log("stream with partition republish:", r);
await jsm.streams.add({ name: "XSF_PART", subjects: ["xsfleet.v1.p.>"] }).catch((e) => console.log(e.message));
const got = [];
nc.subscribe("xsfleet.v1.p.>", { callback: (_e, m) => got.push(`${m.subject} Nats-Sequence=${m.headers?.get("Nats-Sequence")}`) });
const js = jetstream(nc);
for (const d of ["d1", "d2", "d3"]) await js.publish(`xsfleet.v1.dev.${d}.tele`, "x");
await sleep(300);
console.log("republished:", got.join(" | "));
console.log("XSF_PART msgs:", (await jsm.streams.info("XSF_PART")).state.messages);
await nc.close(); await srv.stop(); process.exit(0);
