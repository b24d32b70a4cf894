// Settings of the NATS connection (config file section `nats`, env
// XSFLEET_NATS_*, flags --nats-*): servers, authentication and TLS, read
// and checked here; cloud/node/config.ts reads the node's configuration
// through it and reports every problem with the others.
import type { SettingsReader } from "../base";
import type { NatsSettings } from "./connection";

/** Keys of the `nats` section (besides nested `tls`). */
export const natsSettingKeys: readonly string[] = Object.freeze(["credsFile", "user", "pass", "token", "tls", "name", "servers"]);

const serverUrlPattern = /^(nats|tls|ws|wss):\/\/[^\s/]+(:\d+)?\/?$/;

/** The connection settings of node `nodeId`; problems go to the reader. */
export function readNatsSettings(c: SettingsReader, n: Record<string, unknown>, nodeId: string, defaultServers: string[]): NatsSettings {
  let servers = defaultServers;
  const s = n.servers;
  if (s !== undefined) {
    if (!Array.isArray(s) || s.some((x) => typeof x !== "string")) c.fail("nats.servers", "must be a list of URLs such as nats://127.0.0.1:4222");
    else if (s.length === 0) c.fail("nats.servers", "needs at least one URL such as nats://127.0.0.1:4222");
    else {
      for (const u of s as string[]) if (!serverUrlPattern.test(u)) c.fail("nats.servers", `${JSON.stringify(u)} is not a NATS URL; use nats://host:port (or tls://, ws://, wss://)`);
      servers = s as string[];
    }
  }
  const nats: NatsSettings = { servers, name: c.str("nats.name", n.name, `xsfleet-${nodeId}`) };
  const creds = c.file("nats.credsFile", n.credsFile);
  if (creds) nats.credsFile = creds;
  for (const k of ["user", "pass", "token"] as const) {
    if (n[k] !== undefined) nats[k] = c.str(`nats.${k}`, n[k], "");
  }
  if (nats.pass !== undefined && nats.user === undefined) c.fail("nats.pass", "is set but nats.user is not; set both or neither");
  if (nats.token !== undefined && (nats.user !== undefined || creds)) c.fail("nats.token", "cannot be combined with nats.user or nats.credsFile; choose one way to authenticate");
  const tlsRaw = c.obj("nats.tls", n.tls);
  if (Object.keys(tlsRaw).length > 0) {
    nats.tls = {};
    const ca = c.file("nats.tls.caFile", tlsRaw.caFile);
    const cert = c.file("nats.tls.certFile", tlsRaw.certFile);
    const key = c.file("nats.tls.keyFile", tlsRaw.keyFile);
    if (ca) nats.tls.caFile = ca;
    if (cert) nats.tls.certFile = cert;
    if (key) nats.tls.keyFile = key;
    if (!!cert !== !!key) c.fail("nats.tls", "certFile and keyFile go together; set both for client certificates, or neither");
  }
  return nats;
}
