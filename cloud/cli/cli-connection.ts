// How the operator's CLI commands (`status`, `claims`, `credentials`) reach a
// running system: --nats URL, --creds FILE (default: the local stack's admin
// user, <state>/secrets/creds/admin.creds, when that file exists; env
// XSFLEET_NATS_CREDS), --tls-ca FILE (env XSFLEET_NATS_TLS_CA) for a TLS
// broker. One set of options and one error message for all of them.
import { existsSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { connectionOptions } from "../nats";
import { TrustFile } from "../security";
import { stringOption, type OptionSpec, type Parsed } from "./args";

export const connectionOptionSpecs: Record<string, OptionSpec> = {
  nats: { type: "string", value: "URL", description: "NATS URL of the system", default: "nats://127.0.0.1:4333" },
  creds: { type: "string", value: "FILE", description: "NATS credentials (env XSFLEET_NATS_CREDS; default: .state/secrets/creds/admin.creds when it exists)" },
  "tls-ca": { type: "string", value: "FILE", description: "CA certificate of a TLS broker (env XSFLEET_NATS_TLS_CA; `xsfleet up --tls` makes .state/secrets/tls/ca.pem)" },
};

/** The local stack's admin creds, when `xsfleet up` made them in the default state dir. */
function defaultCreds(): string | undefined {
  const f = path.resolve(".state", "secrets", TrustFile.CredsDir, "admin.creds");
  return existsSync(f) ? f : undefined;
}

export async function cliConnect(p: Parsed, name: string): Promise<NatsConnection> {
  const url = stringOption(p, "nats")!;
  const credsFile = stringOption(p, "creds") ?? process.env.XSFLEET_NATS_CREDS ?? defaultCreds();
  const caFile = stringOption(p, "tls-ca") ?? process.env.XSFLEET_NATS_TLS_CA;
  try {
    const opts = connectionOptions({ servers: [url], name, ...(credsFile ? { credsFile } : {}), ...(caFile ? { tls: { caFile } } : {}) });
    // A command fails fast where a service would wait for the broker forever.
    return await connect({ ...opts, waitOnFirstConnect: false, maxReconnectAttempts: 0, timeout: connectTimeoutMs });
  } catch (e) {
    const why = (e as Error).message;
    const hint = /authoriz|authentic/i.test(why)
      ? ` The system is secured: pass --creds (the admin user of \`xsfleet up\` is .state/secrets/creds/admin.creds)${credsFile ? `; ${credsFile} was refused` : ""}.`
      : " Is the stack running? Start it with `npm start`, or pass --nats.";
    throw new Error(`cannot reach NATS at ${url} (${why}).${hint}`);
  }
}

const connectTimeoutMs = 3_000;
