// NATS JWTs (version 2, the format nats-server 2.9 verifies: github.com/
// nats-io/jwt/v2) for operators, accounts and users, signed with
// node:crypto through nkeys.ts. A JWT is header.payload.signature, each
// base64url without padding; the header is fixed, `jti` is the base32
// SHA-512/256 of the payload written with an empty jti, `iss` is the signing
// key and `sub` the subject's public key. Only the claims xsfleet uses are
// typed here; nothing else is written.
import { createHash } from "node:crypto";
import { base32Encode, KeyPair, KeyType, verifySignature } from "./nkeys";

const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })).toString("base64url");
const jwtVersion = 2;

/** A publish or subscribe permission: subjects allowed, subjects denied (deny wins). */
export interface SubjectPermission {
  allow?: string[];
  deny?: string[];
}

export interface Permissions {
  pub: SubjectPermission;
  sub: SubjectPermission;
}

/** Connection types nats-server knows (jwt v2 constants). */
export const ConnectionType = Object.freeze({
  Standard: "STANDARD",
  Websocket: "WEBSOCKET",
  Leafnode: "LEAFNODE",
  Mqtt: "MQTT",
} as const);
export type ConnectionType = (typeof ConnectionType)[keyof typeof ConnectionType];

export interface UserClaimsInput {
  name: string;
  /** The user's public key (U…). */
  subject: string;
  permissions: Permissions;
  /** May publish one reply to each request it received (nats `allow_responses`). */
  responds?: boolean;
  /** Bearer: the server does not ask for a nonce signature (MQTT cannot sign). */
  bearer: boolean;
  connectionTypes?: ConnectionType[];
  /** Subscriptions the connection may hold (-1 = no limit). */
  subsMax?: number;
  /** Seconds since the epoch; absent = never expires. */
  expiresS?: number;
  /** Set when signed by one of the account's signing keys rather than its identity key. */
  issuerAccount?: string;
}

/** One weighted destination of a subject mapping. */
export interface WeightedMapping {
  subject: string;
  weight: number;
}

export interface AccountLimits {
  subs: number; data: number; payload: number; imports: number; exports: number; wildcards: boolean; conn: number; leaf: number;
  mem_storage: number; disk_storage: number; streams: number; consumer: number;
}

export interface AccountClaimsInput {
  name: string;
  /** The account's public key (A…). */
  subject: string;
  limits: AccountLimits;
  signingKeys?: string[];
  /** User public key → unix seconds: JWTs of that key issued at or before are refused. */
  revocations?: Record<string, number>;
  mappings?: Record<string, WeightedMapping[]>;
}

export interface OperatorClaimsInput {
  name: string;
  subject: string;
  systemAccount: string;
  signingKeys?: string[];
}

/** No limits, JetStream enabled (jwt v2's NoLimit is -1). */
export const unlimitedAccount: Readonly<AccountLimits> = Object.freeze({
  subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1,
  mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1,
});

/** The same without JetStream (the system account). */
export const unlimitedWithoutJetStream: Readonly<AccountLimits> = Object.freeze({ ...unlimitedAccount, mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 });

interface ClaimsBody {
  jti: string;
  iat: number;
  iss: string;
  name: string;
  sub: string;
  exp?: number;
  nats: Record<string, unknown> & { type: string; version: number };
}

function encode(body: Omit<ClaimsBody, "jti" | "iss" | "iat">, signer: KeyPair, iatS: number): string {
  const draft: ClaimsBody = { jti: "", iat: iatS, iss: signer.publicKey, name: body.name, sub: body.sub, ...(body.exp !== undefined ? { exp: body.exp } : {}), nats: body.nats };
  draft.jti = base32Encode(createHash("sha512-256").update(JSON.stringify(draft)).digest());
  const payload = Buffer.from(JSON.stringify(draft)).toString("base64url");
  const signed = `${header}.${payload}`;
  return `${signed}.${Buffer.from(signer.sign(Buffer.from(signed))).toString("base64url")}`;
}

const nowS = (): number => Math.floor(Date.now() / 1000);

export function encodeUserJwt(c: UserClaimsInput, signer: KeyPair, iatS = nowS()): string {
  if (signer.type !== KeyType.Account) throw new Error("user JWTs are signed by an account key or an account signing key");
  const nats: ClaimsBody["nats"] = {
    pub: c.permissions.pub, sub: c.permissions.sub,
    // ttl 0: the server's default (2 min) for how long a reply stays allowed.
    ...(c.responds ? { resp: { max: 1, ttl: 0 } } : {}),
    subs: c.subsMax ?? -1, data: -1, payload: -1,
    ...(c.bearer ? { bearer_token: true } : {}),
    ...(c.connectionTypes ? { allowed_connection_types: c.connectionTypes } : {}),
    ...(c.issuerAccount ? { issuer_account: c.issuerAccount } : {}),
    type: "user", version: jwtVersion,
  };
  return encode({ name: c.name, sub: c.subject, ...(c.expiresS !== undefined ? { exp: c.expiresS } : {}), nats }, signer, iatS);
}

export function encodeAccountJwt(c: AccountClaimsInput, signer: KeyPair, iatS = nowS()): string {
  if (signer.type !== KeyType.Operator) throw new Error("account JWTs are signed by the operator key or an operator signing key");
  const nats: ClaimsBody["nats"] = {
    limits: c.limits,
    ...(c.signingKeys?.length ? { signing_keys: c.signingKeys } : {}),
    ...(c.revocations && Object.keys(c.revocations).length > 0 ? { revocations: c.revocations } : {}),
    ...(c.mappings && Object.keys(c.mappings).length > 0 ? { mappings: c.mappings } : {}),
    type: "account", version: jwtVersion,
  };
  return encode({ name: c.name, sub: c.subject, nats }, signer, iatS);
}

export function encodeOperatorJwt(c: OperatorClaimsInput, signer: KeyPair, iatS = nowS()): string {
  if (signer.type !== KeyType.Operator || signer.publicKey !== c.subject) throw new Error("the operator JWT is self-signed by the operator identity key");
  const nats: ClaimsBody["nats"] = {
    system_account: c.systemAccount,
    ...(c.signingKeys?.length ? { signing_keys: c.signingKeys } : {}),
    type: "operator", version: jwtVersion,
  };
  return encode({ name: c.name, sub: c.subject, nats }, signer, iatS);
}

/** The decoded payload of a JWT whose signature checks out; throws otherwise. */
export function decodeJwt(token: string): ClaimsBody {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("not a JWT: expected header.payload.signature");
  let body: ClaimsBody;
  try {
    body = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as ClaimsBody;
  } catch {
    throw new Error("not a JWT: payload is not base64url JSON");
  }
  if (typeof body.iss !== "string" || typeof body.sub !== "string" || typeof body.nats !== "object") throw new Error("not a NATS JWT: iss, sub or nats missing");
  if (!verifySignature(body.iss, Buffer.from(`${parts[0]}.${parts[1]}`), Buffer.from(parts[2]!, "base64url"))) throw new Error("JWT signature does not verify");
  return body;
}

/** A NATS .creds file: the user JWT and its nkey seed, in the decorated format nats clients read. */
export function credsFile(userJwt: string, userSeed: string): string {
  return `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
    "************************* IMPORTANT *************************\n" +
    "NKEY Seed printed below can be used to sign and prove identity.\n" +
    "NKEYs are sensitive and should be treated as secrets.\n\n" +
    `-----BEGIN USER NKEY SEED-----\n${userSeed}\n------END USER NKEY SEED------\n\n` +
    "*************************************************************\n";
}
