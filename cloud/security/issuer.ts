// Issues the bearer credentials devices and claims connect with: a user JWT
// signed by the FLEET account's signing key, MQTT only, with the exact
// permissions of cloud/security/permissions.ts and an expiry. The user key
// pair is made fresh for every credential and its seed thrown away: a bearer
// JWT is never asked to sign the server's nonce (MQTT cannot), so the JWT
// alone is the credential, and revoking it means revoking its public key.
// Signing uses node:crypto (~0.1 ms per credential with the key pair).
import { ConnectionType, encodeUserJwt } from "./jwt";
import { KeyPair, KeyType } from "./nkeys";
import { claimPermissions, devicePermissions, deviceSubscriptionsMax, gatewayPermissions, gatewaySubscriptionsMax, type PrincipalPermissions } from "./permissions";
import type { SigningTrust } from "./trust";

export interface IssuedCredential {
  jwt: string;
  /** The user public key: what a revocation names. */
  publicKey: string;
  issuedS: number;
  expiresS: number;
}

/** Longest lifetime of any credential this issuer signs (a year): revocation entries live as long. */
export const credentialTtlMaxS = 366 * 24 * 3600;

export class CredentialIssuer {
  readonly #trust: SigningTrust;

  constructor(trust: SigningTrust) {
    this.#trust = trust;
  }

  get partitions(): number | null {
    return this.#trust.info.partitions;
  }

  /** A device's credential: username = client id = device id, this JWT as the MQTT password. */
  device(deviceId: string, ttlS: number, nowS = Math.floor(Date.now() / 1000)): IssuedCredential {
    return this.#issue(deviceId, devicePermissions(deviceId, this.#trust.info.partitions), ttlS, nowS);
  }

  /** A gateway's credential: its own subjects and those of the children on `children` (docs/edge.md). */
  gateway(gatewayId: string, children: readonly string[], ttlS: number, nowS = Math.floor(Date.now() / 1000)): IssuedCredential {
    return this.#issue(gatewayId, gatewayPermissions(gatewayId, children, this.#trust.info.partitions), ttlS, nowS, gatewaySubscriptionsMax(children.length));
  }

  /** A claim's credential: only its provisioning request and response subjects. */
  claim(claimId: string, ttlS: number, nowS = Math.floor(Date.now() / 1000)): IssuedCredential {
    return this.#issue(`claim-${claimId}`, claimPermissions(claimId), ttlS, nowS);
  }

  #issue(name: string, p: PrincipalPermissions, ttlS: number, nowS: number, subsMax = deviceSubscriptionsMax): IssuedCredential {
    if (!Number.isSafeInteger(ttlS) || ttlS < 1 || ttlS > credentialTtlMaxS) throw new Error(`credential lifetime must be 1..${credentialTtlMaxS} s, got ${ttlS}`);
    const user = KeyPair.create(KeyType.User);
    const expiresS = nowS + ttlS;
    const jwt = encodeUserJwt({
      name, subject: user.publicKey, bearer: true, connectionTypes: [ConnectionType.Mqtt], subsMax,
      expiresS, issuerAccount: this.#trust.info.fleet, permissions: { pub: p.pub, sub: p.sub },
    }, this.#trust.fleetSigning, nowS);
    return { jwt, publicKey: user.publicKey, issuedS: nowS, expiresS };
  }
}
