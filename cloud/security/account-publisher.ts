// Pushes the FLEET account JWT to the brokers: a request on
// `$SYS.REQ.CLAIMS.UPDATE` as the system account's `sys-push` user. With the
// full resolver every server takes it (each subscribes to the subject),
// stores it in its resolver directory and applies it at once — a revoked
// user's connections close within tens of milliseconds (docs/research/nats29
// A3: 28 ms) — with no configuration reload. Never SIGHUP a server in
// operator mode instead: a reload closes every MQTT and every JWT client and
// deletes retained MQTT messages (A3).
import type { NatsConnection } from "@nats-io/transport-node";
import { fleetAccountJwt, type SigningTrust } from "./trust";

/** The subject the full resolver takes account updates on. */
export const claimsUpdateSubject = "$SYS.REQ.CLAIMS.UPDATE";
const pushTimeoutMs = 5_000;

export class AccountPushError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AccountPushError";
  }
}

export class FleetAccountPublisher {
  readonly #nc: NatsConnection;
  readonly #trust: SigningTrust;
  #pushes = 0;
  #lastBytes = 0;

  /** `sysNc`: a connection of the system account's sys-push user. */
  constructor(sysNc: NatsConnection, trust: SigningTrust) {
    this.#nc = sysNc;
    this.#trust = trust;
  }

  get pushes(): number {
    return this.#pushes;
  }

  /** Size of the last pushed JWT (bytes): the revocation list's cost. */
  get lastBytes(): number {
    return this.#lastBytes;
  }

  /** Signs and pushes the account with these revocations; throws AccountPushError unless a server confirms. */
  async push(revocations: Record<string, number>): Promise<void> {
    const jwt = fleetAccountJwt(this.#trust, revocations);
    let reply;
    try {
      reply = await this.#nc.request(claimsUpdateSubject, jwt, { timeout: pushTimeoutMs });
    } catch (e) {
      throw new AccountPushError(`pushing the FLEET account JWT failed: ${(e as Error).message}`);
    }
    let body: { data?: { code?: number; message?: string }; error?: { code?: number; description?: string } };
    try {
      body = reply.json();
    } catch {
      throw new AccountPushError(`the server answered the account push with ${JSON.stringify(reply.string().slice(0, 200))}`);
    }
    if (body.data?.code !== 200) throw new AccountPushError(`the server refused the FLEET account JWT: ${JSON.stringify(body.error ?? body.data)}`);
    this.#pushes++;
    this.#lastBytes = jwt.length;
  }
}
