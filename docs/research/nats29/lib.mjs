// Shared helpers for the nats-server 2.9.10 experiments: start real
// nats-server processes on free loopback ports in temp dirs, MQTT helpers.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import mqtt from "mqtt";

// kill the servers we started if the script dies or exits early
const children = new Set();
process.on("exit", () => { for (const p of children) try { p.kill("SIGKILL"); } catch {} });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    srv.on("error", reject);
  });
}

export async function waitForPort(port, timeoutMs = 20000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1", () => { s.destroy(); r(true); });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} not open`);
}

/** Starts one nats-server with the given config body (the caller puts the
 *  ports in via the placeholders {{PORT}} {{MQTT}} {{HTTP}} {{STORE}}). */
export async function startServer(body, { name = "n", dir, ports, waitMqtt = true, extraArgs = [] } = {}) {
  dir ??= mkdtempSync(path.join(tmpdir(), "nats29-"));
  ports ??= { port: await freePort(), mqtt: await freePort(), http: await freePort() };
  const store = path.join(dir, `${name}-js`);
  mkdirSync(store, { recursive: true });
  const conf = body.replaceAll("{{PORT}}", ports.port).replaceAll("{{MQTT}}", ports.mqtt)
    .replaceAll("{{HTTP}}", ports.http).replaceAll("{{STORE}}", store).replaceAll("{{DIR}}", dir);
  const confPath = path.join(dir, `${name}.conf`);
  writeFileSync(confPath, conf);
  const logPath = path.join(dir, `${name}.log`);
  let log = "";
  const proc = spawn("nats-server", ["-c", confPath, ...extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
  const onData = (d) => { log += d.toString(); };
  proc.stdout.on("data", onData); proc.stderr.on("data", onData);
  children.add(proc);
  const exited = new Promise((r) => proc.once("exit", (code) => { children.delete(proc); r(code); }));
  await waitForPort(ports.port).catch((e) => { console.error(log); throw e; });
  if (waitMqtt && conf.includes("mqtt")) await waitForPort(ports.mqtt);
  const srv = {
    proc, dir, confPath, ports, name,
    url: `nats://127.0.0.1:${ports.port}`, mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    http: `http://127.0.0.1:${ports.http}`,
    get log() { return log; },
    clearLog() { log = ""; },
    rewrite(newBody) {
      writeFileSync(confPath, newBody.replaceAll("{{PORT}}", ports.port).replaceAll("{{MQTT}}", ports.mqtt)
        .replaceAll("{{HTTP}}", ports.http).replaceAll("{{STORE}}", store).replaceAll("{{DIR}}", dir));
    },
    /** SIGHUP and wait for the "Reloaded" line. Returns ms. */
    async reload(timeoutMs = 600000) {
      const before = log.length;
      const t0 = performance.now();
      proc.kill("SIGHUP");
      while (!/Reloaded server configuration|Failed to reload/.test(log.slice(before))) {
        if (performance.now() - t0 > timeoutMs) throw new Error("reload timeout");
        await sleep(5);
      }
      if (/Failed to reload/.test(log.slice(before))) throw new Error("reload failed: " + log.slice(before));
      return performance.now() - t0;
    },
    async stop(sig = "SIGTERM") { if (proc.exitCode === null) { proc.kill(sig); await exited; } writeFileSync(logPath, log); },
  };
  return srv;
}

/** Resident memory (kB) of a pid, from /proc. */
export function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : -1;
}

/** Connects an MQTT 3.1.1 client; resolves with the client or rejects with the CONNACK error. */
export function mqttConnect(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    const onErr = (e) => { c.end(true); reject(e); };
    c.once("connect", (ack) => { c.off("error", onErr); c.connack = ack; resolve(c); });
    c.once("error", onErr);
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
}

/** Publish with a timeout: resolves "puback" / "timeout" / error message; detects close. */
export function pubResult(c, topic, payload, opts, timeoutMs = 3000) {
  return new Promise((resolve) => {
    let done = false;
    const fin = (v) => { if (!done) { done = true; c.off("close", onClose); resolve(v); } };
    const onClose = () => fin("connection closed");
    c.once("close", onClose);
    c.publish(topic, payload, opts, (err) => fin(err ? `error: ${err.message}` : (opts.qos ? "puback" : "sent")));
    setTimeout(() => fin("timeout (no PUBACK)"), timeoutMs);
  });
}

/** Subscribe; resolves with the granted QoS array (128 = failure). */
export function subResult(c, topic, opts = { qos: 0 }) {
  return new Promise((resolve) => {
    c.subscribe(topic, opts, (err, granted) => resolve(err ? `error: ${err.message}` : granted.map((g) => g.qos)));
  });
}

export function closeAll(...cs) { for (const c of cs) try { c.end(true); } catch {} }

/** Starts an n-node cluster; `extra` is appended to each node's config. */
export async function startCluster(n, extra = "", { name = "c", mqttExtra = "" } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "nats29c-"));
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push({ port: await freePort(), mqtt: await freePort(), http: await freePort(), cluster: await freePort() });
  const body = (i) => `
server_name: ${name}${i}
server_tags: ["node${i}"]
listen: 127.0.0.1:{{PORT}}
http: 127.0.0.1:{{HTTP}}
jetstream { store_dir: "{{STORE}}" }
mqtt { listen: 127.0.0.1:{{MQTT}}
${mqttExtra} }
cluster { name: ${name}, listen: 127.0.0.1:${nodes[i].cluster}, routes: [${nodes.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p.cluster}`).join(", ")}] }
${extra}`;
  const servers = await Promise.all(nodes.map((p, i) => startServer(body(i), { name: `${name}${i}`, dir, ports: p })));
  // wait until JetStream has a meta leader (healthz ok on all)
  const t0 = Date.now();
  for (const s of servers) {
    while (true) {
      const ok = await fetch(`${s.http}/healthz?js-enabled-only=true`).then((r) => r.ok, () => false);
      const jsz = await fetch(`${s.http}/jsz`).then((r) => r.json(), () => ({}));
      if (ok && jsz.meta_cluster?.leader) break;
      if (Date.now() - t0 > 30000) throw new Error("cluster not ready");
      await sleep(200);
    }
  }
  return { dir, servers, body, async stop() { await Promise.all(servers.map((s) => s.stop())); } };
}
