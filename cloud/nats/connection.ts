// NATS connections for cloud services: explicit options at the call site,
// reconnect forever (services outlive broker restarts). Several sockets for
// one hot path: pool.ts.
import { connect, credsAuthenticator, type NatsConnection, type ConnectionOptions } from "@nats-io/transport-node";
import { accessSync, constants, readFileSync } from "node:fs";

export interface NatsSettings {
  /** One or more server URLs; clients fail over between them. */
  servers: string[];
  /** Name shown in the server's connection list (`connz`). */
  name: string;
  /** Path to a .creds file (JWT + nkey seed), optional. */
  credsFile?: string;
  user?: string;
  pass?: string;
  token?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/**
 * The reply inbox of a principal: `_INBOX_<name>`. Every xsfleet NATS user
 * may subscribe only to its own inbox (cloud/security/permissions.ts), so
 * nobody reads another principal's replies.
 */
export function inboxPrefixFor(principal: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(principal)) throw new Error(`principal name ${JSON.stringify(principal)} must match [A-Za-z0-9_-]{1,64}`);
  return `_INBOX_${principal}`;
}

/** The user name inside a .creds file's JWT (its `name` claim); null when the file holds none. */
export function credsUserName(creds: string): string | null {
  const m = /-----BEGIN NATS USER JWT-----\s*([A-Za-z0-9_.-]+)\s*-/.exec(creds);
  if (!m) return null;
  try {
    const payload = JSON.parse(Buffer.from(m[1]!.split(".")[1] ?? "", "base64url").toString("utf8")) as { name?: unknown };
    return typeof payload.name === "string" ? payload.name : null;
  } catch {
    return null;
  }
}

export function connectionOptions(s: NatsSettings): ConnectionOptions {
  if (s.servers.length === 0) throw new Error("no NATS servers configured: set nats.servers (e.g. nats://127.0.0.1:4222)");
  const opts: ConnectionOptions = {
    servers: s.servers,
    name: s.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 10_000,
    waitOnFirstConnect: true,
    // Without this the client builds two Error objects (with stack traces) per
    // request, JetStream publish included: 14 % of ingest's CPU in a profile
    // (docs/performance.md). Errors keep their type and message.
    noAsyncTraces: true,
  };
  if (s.credsFile) {
    const creds = readFileSync(s.credsFile);
    opts.authenticator = credsAuthenticator(creds);
    // Replies come back on the user's own inbox, the only one its permissions allow.
    const name = credsUserName(creds.toString("utf8"));
    if (name !== null && /^[A-Za-z0-9_-]{1,64}$/.test(name)) opts.inboxPrefix = inboxPrefixFor(name);
  }
  if (s.user !== undefined) opts.user = s.user;
  if (s.pass !== undefined) opts.pass = s.pass;
  if (s.token !== undefined) opts.token = s.token;
  if (s.tls) {
    opts.tls = {};
    if (s.tls.caFile) opts.tls.caFile = s.tls.caFile;
    if (s.tls.certFile) opts.tls.certFile = s.tls.certFile;
    if (s.tls.keyFile) opts.tls.keyFile = s.tls.keyFile;
  }
  return opts;
}

/**
 * The credentials and TLS CA of a process's command line (`--creds`,
 * `--tls-ca`, or env XSFLEET_NATS_CREDS / XSFLEET_NATS_TLS_CA), checked
 * readable; throws with a message naming the flag.
 */
export function natsAuthFromFlags(creds: string | undefined, tlsCa: string | undefined, env: NodeJS.ProcessEnv = process.env): Pick<NatsSettings, "credsFile" | "tls"> {
  const file = (flag: string, v: string | undefined): string | undefined => {
    if (v === undefined || v === "") return undefined;
    try {
      accessSync(v, constants.R_OK);
    } catch {
      throw new Error(`${flag}: cannot read ${v}`);
    }
    return v;
  };
  const credsFile = file("--creds", creds ?? env.XSFLEET_NATS_CREDS);
  const caFile = file("--tls-ca", tlsCa ?? env.XSFLEET_NATS_TLS_CA);
  return { ...(credsFile ? { credsFile } : {}), ...(caFile ? { tls: { caFile } } : {}) };
}

export async function connectNats(s: NatsSettings): Promise<NatsConnection> {
  return connect(connectionOptions(s));
}
