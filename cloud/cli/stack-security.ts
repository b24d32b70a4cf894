// What `xsfleet up` needs to run secured (docs/security.md): the trust in
// <state>/secrets (operator, accounts, signing keys; made on the first run,
// kept after), one creds file per principal (written fresh on every run,
// 0600), the broker's operator configuration with each server's resolver
// seeded with the FLEET account, and with --tls a local CA and the server
// certificate. The flags each process gets follow from it.
import path from "node:path";
import type { CloudRole } from "../base";
import type { LocalNatsOptions } from "../infra";
import { defaultIngestConfig } from "../ingest";
import {
  ensureLocalTls, ensureTrust, natsOperatorConfig, Principal, principalPermissions, rolesPermissions, rolesPrincipalName, seedFleetAccount,
  writeServiceCreds, type FullTrust, type LocalTls,
} from "../security";
import { allOutSubject } from "../subjects";

export interface StackSecurity {
  trust: FullTrust;
  tls: LocalTls | null;
  /** Creds files by principal. */
  creds: { control: string; consensus: string; dashboard: string; fleet: string; integrator: string; admin: string };
  /** The creds file of a cloud node with these roles. */
  nodeCreds(roles: readonly CloudRole[]): string;
  /** What startLocalNats needs for operator mode (and TLS). */
  broker: Pick<LocalNatsOptions, "operator" | "prepareResolver" | "tls">;
}

/** Uplink partitions the broker maps into (FLEET account JWT, or config
 *  mappings when open): ingest's default `ingest.partitions`, which the
 *  stack's cloud nodes use (docs/delivery.md). */
export const stackPartitions: number = defaultIngestConfig.partitions;

export function prepareStackSecurity(stateDir: string, opts: { tls: boolean; tlsHosts: readonly string[] }): StackSecurity {
  const dir = path.join(stateDir, "secrets");
  const trust = ensureTrust(dir, { partitions: stackPartitions });
  const tls = opts.tls ? ensureLocalTls(path.join(dir, "tls"), opts.tlsHosts) : null;
  const write = (p: Exclude<Principal, "device" | "claim" | CloudRole>): string => writeServiceCreds(trust, p, principalPermissions(p));
  return {
    trust,
    tls,
    creds: { control: write(Principal.Control), consensus: write(Principal.Consensus), dashboard: write(Principal.Dashboard), fleet: write(Principal.Fleet), integrator: write(Principal.Integrator), admin: write(Principal.Admin) },
    nodeCreds: (roles) => writeServiceCreds(trust, rolesPrincipalName(roles), rolesPermissions(roles)),
    broker: {
      operator: natsOperatorConfig(trust),
      prepareResolver: (resolverDir) => seedFleetAccount(trust, resolverDir),
      ...(tls ? { tls: { certFile: tls.certFile, keyFile: tls.keyFile } } : {}),
    },
  };
}

/** Flags of a cloud node process (`xsfleet cloud`). */
export function cloudNodeSecurityArgs(s: StackSecurity, roles: readonly CloudRole[]): string[] {
  return [
    "--nats-creds", s.nodeCreds(roles), ...(roles.includes("provisioning") ? ["--trust-dir", s.trust.dir] : []),
    ...(s.tls ? ["--nats-tls-ca", s.tls.caFile] : []),
  ];
}

/** Flags of a control-plane replica (cloud/controlplane/main.ts). */
export function controlReplicaSecurityArgs(s: StackSecurity): string[] {
  return ["--creds", s.creds.control, ...(s.tls ? ["--tls-ca", s.tls.caFile] : [])];
}

/** Flags of a CASPaxos acceptor process (cloud/paxos/main.ts). */
export function paxosAcceptorSecurityArgs(s: StackSecurity): string[] {
  return ["--creds", s.creds.consensus, ...(s.tls ? ["--tls-ca", s.tls.caFile] : [])];
}

/** How an integrator connects, for `up` to print. */
export function integratorHint(s: StackSecurity, servers: readonly string[]): string[] {
  const tls = s.tls ? ` --tlsca ${s.tls.caFile}` : "";
  return [
    `integrators connect with ${s.creds.integrator} (outputs, events, the API without claims/credentials), e.g.`,
    `  nats --server ${servers[0]} --creds ${s.creds.integrator}${tls} sub '${allOutSubject}'`,
    `  or in Node: connect({ servers, authenticator: credsAuthenticator(readFileSync(creds)), inboxPrefix: "_INBOX_integrator" })`,
    `operator CLI: xsfleet claims create --device <id> --creds ${s.creds.admin}${s.tls ? ` --tls-ca ${s.tls.caFile}` : ""}`,
  ];
}
