// The deployment's keys and what is derived from them (docs/security.md):
//
//   operator (identity key, self-signed operator JWT) ── operator signing key
//     ├─ SYS account: the system account; its user `sys-push` may only
//     │    publish account updates on $SYS.REQ.CLAIMS.UPDATE
//     └─ FLEET account: devices and cloud roles; JetStream; the uplink
//          partition mappings; the revocation list; its signing key signs
//          every user JWT (devices, claims, service users)
//
// All of it lives in one directory (the "trust dir", `.state/secrets` for
// `xsfleet up`), every file 0600 in a 0700 directory: trust.json (public
// keys and settings), the seeds (*.nk) and the service users' creds
// (creds/<name>.creds). The provisioning role needs only trust.json, the two
// signing seeds and sys-push.creds (loadSigningTrust).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { partitionsMax } from "../../shared/topics";
import type { NatsOperatorConfig } from "../infra";
import { uplinkPartitionMappings } from "../subjects";
import {
  credsFile, encodeAccountJwt, encodeOperatorJwt, encodeUserJwt, unlimitedAccount, unlimitedWithoutJetStream, type WeightedMapping,
} from "./jwt";
import { KeyPair, KeyType } from "./nkeys";
import type { PrincipalPermissions } from "./permissions";

export const trustFormatVersion = 1;

/** The public half of the trust: safe to read by anyone who may read the dir. */
export interface TrustInfo {
  version: typeof trustFormatVersion;
  operator: string;
  operatorSigning: string;
  system: string;
  fleet: string;
  fleetSigning: string;
  /** Uplink partitions the broker maps device uplinks into (docs/delivery.md); null = unmapped. */
  partitions: number | null;
  createdMs: number;
}

export const TrustFile = Object.freeze({
  Info: "trust.json",
  Operator: "operator.nk",
  OperatorSigning: "operator-signing.nk",
  System: "system.nk",
  Fleet: "fleet.nk",
  FleetSigning: "fleet-signing.nk",
  SysPush: "sys-push.creds",
  CredsDir: "creds",
} as const);

export const fleetAccountName = "FLEET";
export const systemAccountName = "SYS";
export const sysPushUserName = "sys-push";

/** The keys the provisioning role signs with. */
export interface SigningTrust {
  info: TrustInfo;
  operatorSigning: KeyPair;
  fleetSigning: KeyPair;
}

/** Everything: what `xsfleet up` and the test harness hold. */
export interface FullTrust extends SigningTrust {
  dir: string;
  operator: KeyPair;
  system: KeyPair;
  fleet: KeyPair;
}

/** Writes a secret: 0600, atomically enough for a local tool (write then chmod). */
export function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function readSeed(dir: string, file: string, type: KeyType): KeyPair {
  const p = path.join(dir, file);
  let text: string;
  try {
    text = readFileSync(p, "utf8");
  } catch (e) {
    throw new Error(`trust: cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); run \`xsfleet up\` once to create the keys, or mount the trust dir`);
  }
  return KeyPair.fromSeed(text, type);
}

function checkPartitions(p: number | null): number | null {
  if (p !== null && !(Number.isSafeInteger(p) && p >= 1 && p <= partitionsMax)) throw new Error(`trust: partitions must be null or 1..${partitionsMax}, got ${p}`);
  return p;
}

export function loadTrustInfo(dir: string): TrustInfo {
  const p = path.join(dir, TrustFile.Info);
  let info: TrustInfo;
  try {
    info = JSON.parse(readFileSync(p, "utf8")) as TrustInfo;
  } catch (e) {
    throw new Error(`trust: cannot read ${p}: ${(e as Error).message}`);
  }
  if (info.version !== trustFormatVersion) throw new Error(`trust: ${p} has version ${String(info.version)}, this build reads ${trustFormatVersion}`);
  for (const k of ["operator", "operatorSigning", "system", "fleet", "fleetSigning"] as const) {
    if (typeof info[k] !== "string") throw new Error(`trust: ${p} lacks ${k}`);
  }
  checkPartitions(info.partitions);
  return info;
}

/** The provisioning role's view: public info and the two signing keys, checked against each other. */
export function loadSigningTrust(dir: string): SigningTrust {
  const info = loadTrustInfo(dir);
  const operatorSigning = readSeed(dir, TrustFile.OperatorSigning, KeyType.Operator);
  const fleetSigning = readSeed(dir, TrustFile.FleetSigning, KeyType.Account);
  if (operatorSigning.publicKey !== info.operatorSigning) throw new Error(`trust: ${TrustFile.OperatorSigning} does not match trust.json`);
  if (fleetSigning.publicKey !== info.fleetSigning) throw new Error(`trust: ${TrustFile.FleetSigning} does not match trust.json`);
  return { info, operatorSigning, fleetSigning };
}

/**
 * Loads the trust in `dir`, or creates it (new operator, accounts and
 * signing keys) when the dir holds none. `partitions` is recorded; a change
 * takes effect with the next account push (the provisioning role pushes at
 * start) and needs device credentials re-issued (docs/security.md).
 */
export function ensureTrust(dir: string, opts: { partitions: number | null }): FullTrust {
  const partitions = checkPartitions(opts.partitions);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (!existsSync(path.join(dir, TrustFile.Info))) {
    const keys = {
      operator: KeyPair.create(KeyType.Operator), operatorSigning: KeyPair.create(KeyType.Operator), system: KeyPair.create(KeyType.Account),
      fleet: KeyPair.create(KeyType.Account), fleetSigning: KeyPair.create(KeyType.Account),
    };
    writeSecret(path.join(dir, TrustFile.Operator), keys.operator.seed());
    writeSecret(path.join(dir, TrustFile.OperatorSigning), keys.operatorSigning.seed());
    writeSecret(path.join(dir, TrustFile.System), keys.system.seed());
    writeSecret(path.join(dir, TrustFile.Fleet), keys.fleet.seed());
    writeSecret(path.join(dir, TrustFile.FleetSigning), keys.fleetSigning.seed());
    const info: TrustInfo = {
      version: trustFormatVersion, operator: keys.operator.publicKey, operatorSigning: keys.operatorSigning.publicKey, system: keys.system.publicKey,
      fleet: keys.fleet.publicKey, fleetSigning: keys.fleetSigning.publicKey, partitions, createdMs: Date.now(),
    };
    writeSecret(path.join(dir, TrustFile.Info), JSON.stringify(info, null, 2) + "\n");
  }
  let info = loadTrustInfo(dir);
  if (info.partitions !== partitions) {
    info = { ...info, partitions };
    writeSecret(path.join(dir, TrustFile.Info), JSON.stringify(info, null, 2) + "\n");
  }
  const signing = loadSigningTrust(dir);
  const trust: FullTrust = {
    ...signing, dir,
    operator: readSeed(dir, TrustFile.Operator, KeyType.Operator),
    system: readSeed(dir, TrustFile.System, KeyType.Account),
    fleet: readSeed(dir, TrustFile.Fleet, KeyType.Account),
  };
  if (trust.operator.publicKey !== info.operator || trust.system.publicKey !== info.system || trust.fleet.publicKey !== info.fleet) {
    throw new Error(`trust: the seeds in ${dir} do not match its trust.json`);
  }
  writeSecret(path.join(dir, TrustFile.SysPush), sysPushCreds(trust));
  return trust;
}

// ---- JWTs ----

/** The FLEET account's mappings claim: uplinks into partitions (none when partitions is null). */
function fleetMappings(partitions: number | null): Record<string, WeightedMapping[]> {
  if (partitions === null) return {};
  const out: Record<string, WeightedMapping[]> = {};
  for (const [from, to] of Object.entries(uplinkPartitionMappings(partitions))) out[from] = [{ subject: to, weight: 100 }];
  return out;
}

/** The FLEET account JWT with these revocations (public key → unix seconds). */
export function fleetAccountJwt(t: SigningTrust, revocations: Record<string, number>, iatS?: number): string {
  return encodeAccountJwt({
    name: fleetAccountName, subject: t.info.fleet, limits: unlimitedAccount, signingKeys: [t.info.fleetSigning],
    revocations, mappings: fleetMappings(t.info.partitions),
  }, t.operatorSigning, iatS);
}

export function systemAccountJwt(t: FullTrust): string {
  return encodeAccountJwt({ name: systemAccountName, subject: t.info.system, limits: unlimitedWithoutJetStream }, t.operatorSigning);
}

export function operatorJwt(t: FullTrust): string {
  return encodeOperatorJwt({ name: "xsfleet", subject: t.info.operator, systemAccount: t.info.system, signingKeys: [t.info.operatorSigning] }, t.operator);
}

/** The system-account user that may only push account JWTs (and read its replies). */
function sysPushCreds(t: FullTrust): string {
  const user = KeyPair.create(KeyType.User);
  const jwt = encodeUserJwt({
    name: sysPushUserName, subject: user.publicKey, bearer: false,
    permissions: { pub: { allow: ["$SYS.REQ.CLAIMS.UPDATE"] }, sub: { allow: [`_INBOX_${sysPushUserName}.>`] } },
  }, t.system);
  return credsFile(jwt, user.seed());
}

/** A service user (creds file: JWT + seed) with exactly these permissions, signed by the FLEET signing key. */
export function serviceCreds(t: SigningTrust, name: string, p: PrincipalPermissions): string {
  const user = KeyPair.create(KeyType.User);
  const jwt = encodeUserJwt({
    name, subject: user.publicKey, bearer: false, issuerAccount: t.info.fleet, connectionTypes: p.connectionTypes,
    permissions: { pub: p.pub, sub: p.sub }, responds: p.responds,
  }, t.fleetSigning);
  return credsFile(jwt, user.seed());
}

/** Writes creds/<name>.creds (0600) and returns its path. */
export function writeServiceCreds(t: FullTrust, name: string, p: PrincipalPermissions): string {
  const dir = path.join(t.dir, TrustFile.CredsDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${name}.creds`);
  writeSecret(file, serviceCreds(t, name, p));
  return file;
}

/**
 * What nats-server needs for operator mode: the operator JWT, the system
 * account, the full resolver's directory, and the SYS account preloaded.
 * The FLEET account is not preloaded: a preload would be older than what
 * the resolver holds after a revocation push. `seedFleetAccount` writes its
 * first JWT into the resolver directory instead; pushes replace it.
 */
export function natsOperatorConfig(t: FullTrust): Omit<NatsOperatorConfig, "resolverDir"> {
  return { operatorJwt: operatorJwt(t), systemAccount: t.info.system, preload: { [t.info.system]: systemAccountJwt(t) } };
}

/** Puts the FLEET account JWT into a resolver directory unless it already holds one (with its revocations). */
export function seedFleetAccount(t: FullTrust, resolverDir: string): void {
  mkdirSync(resolverDir, { recursive: true });
  const file = path.join(resolverDir, `${t.info.fleet}.jwt`);
  if (!existsSync(file)) writeFileSync(file, fleetAccountJwt(t, {}));
}
