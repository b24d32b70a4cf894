// Container healthcheck for the xsfleet image (Dockerfile, docker-compose.yml).
// Exit 0 healthy, 1 not (with one line on stderr saying why).
//
//   node deploy/healthcheck.mjs http [URL]
//       GET URL, healthy on 2xx. Default: the cloud node's /healthz at
//       XSFLEET_HTTP_HOST:XSFLEET_HTTP_PORT (0.0.0.0 is asked on 127.0.0.1).
//   node deploy/healthcheck.mjs control
//       a control-plane replica: asks replica XSFLEET_CONTROL_ID for
//       raft.status over NATS (XSFLEET_NATS_SERVERS); healthy when it answers
//       and knows a leader, i.e. it has joined a working Raft group. On a
//       secured stack it logs in with XSFLEET_NATS_CREDS (the replica's
//       control user, whose replies come back on _INBOX_control).
const timeoutMs = 4_000;

function fail(why) {
  process.stderr.write(`unhealthy: ${why}\n`);
  process.exit(1);
}

async function checkHttp(url) {
  if (!url) {
    const host = process.env.XSFLEET_HTTP_HOST;
    const port = process.env.XSFLEET_HTTP_PORT || "9464";
    const h = !host || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    url = `http://${h.includes(":") ? `[${h}]` : h}:${port}/healthz`;
  }
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    fail(`${url}: ${e.cause?.message ?? e.message}`);
  }
  if (!res.ok) fail(`${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
}

async function checkControl() {
  const id = process.env.XSFLEET_CONTROL_ID;
  const servers = (process.env.XSFLEET_NATS_SERVERS || "nats://127.0.0.1:4222").split(",").map((s) => s.trim()).filter(Boolean);
  if (!id || !/^\d+$/.test(id)) fail("set XSFLEET_CONTROL_ID to this replica's Raft node id");
  const { connect, credsAuthenticator } = await import("@nats-io/transport-node");
  const creds = process.env.XSFLEET_NATS_CREDS;
  let auth = {};
  if (creds) {
    const { readFileSync } = await import("node:fs");
    auth = { authenticator: credsAuthenticator(readFileSync(creds)), inboxPrefix: "_INBOX_control" };
  }
  let nc;
  try {
    nc = await connect({ servers, name: `healthcheck-control-${id}`, timeout: timeoutMs, ...auth });
  } catch (e) {
    fail(`cannot connect to NATS ${servers.join(",")}: ${e.message}`);
  }
  try {
    const msg = await nc.request(`xsfleet.v1.control.node.${id}.raft.status`, "{}", { timeout: timeoutMs });
    const reply = msg.json();
    if (!reply.ok) fail(`replica ${id}: ${reply.code} ${reply.message}`);
    if (!reply.value?.leader) fail(`replica ${id} knows no leader yet (state ${reply.value?.state}, term ${reply.value?.term})`);
  } catch (e) {
    fail(`replica ${id} did not answer raft.status: ${e.message}`);
  } finally {
    await nc.close();
  }
}

const [mode, arg] = process.argv.slice(2);
if (mode === "http") await checkHttp(arg);
else if (mode === "control") await checkControl();
else fail(`usage: healthcheck.mjs http [URL] | control (got ${JSON.stringify(mode)})`);
process.exit(0);
