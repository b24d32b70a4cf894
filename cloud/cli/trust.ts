// `xsfleet trust init`: the keys and credentials of a secured deployment
// that `xsfleet up` does not start itself (deploy/docker-compose.secure.yml,
// docs/security.md "Containers"): the trust dir (operator, accounts,
// signing keys), a creds file per principal and per cloud-node role set,
// and nats-operator.conf, the include file that puts nats-server into
// operator mode with the full resolver. Re-running keeps the keys and
// writes fresh creds.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { cloudRoles, isCloudRole, type CloudRole } from "../base";
import { operatorConfigLines } from "../infra";
import {
  ensureTrust, fleetAccountJwt, natsOperatorConfig, principalPermissions, rolesPermissions, rolesPrincipalName, servicePrincipals, writeSecret,
  writeServiceCreds,
} from "../security";
import { defaultIngestConfig } from "../ingest";
import { intOption, parseCommand, stringOption, UsageError, type CommandSpec } from "./args";

export const trustInitSpec: CommandSpec = {
  name: "trust init",
  summary: "Create (or keep) the operator, accounts and signing keys of a secured deployment, and write a creds file per principal plus nats-operator.conf for nats-server.",
  usage: "xsfleet trust init --dir DIR [--roles ingest,api,…] [--partitions N] [--resolver-dir /data/jwt]",
  options: {
    dir: { type: "string", value: "DIR", description: "the trust dir (0700; keys and creds 0600)" },
    roles: { type: "string", value: "LIST", description: "roles of the cloud nodes that get creds (one creds file for the set)", default: "ingest,api,commands,orchestration,provisioning" },
    partitions: { type: "string", value: "N", description: "map device uplinks into N partitions in the FLEET account (must match ingest.partitions; 0 = unmapped, which no ingest consumes)", default: String(defaultIngestConfig.partitions) },
    "resolver-dir": { type: "string", value: "DIR", description: "the nats-server resolver directory named in nats-operator.conf (inside the container)", default: "/data/jwt" },
  },
  examples: ["xsfleet trust init --dir deploy/secrets"],
};

export async function runTrust(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== "init") {
    if (!action || action === "--help" || action === "-h") {
      process.stdout.write(`xsfleet trust init [options]\n\n${trustInitSpec.summary}\nRun \`xsfleet trust init --help\` for its options.\n`);
      return 0;
    }
    throw new UsageError(`unknown action "${action}"; use init`, "trust");
  }
  const p = parseCommand(trustInitSpec, rest);
  if (!p) return 0;
  const dir = stringOption(p, "dir");
  if (!dir) throw new UsageError("--dir is required", "trust init");
  const roles = (stringOption(p, "roles") ?? "").split(",").map((r) => r.trim()).filter(Boolean);
  const bad = roles.filter((r) => !isCloudRole(r));
  if (roles.length === 0 || bad.length > 0) throw new UsageError(`--roles takes ${cloudRoles.join(", ")}; got ${bad.join(", ") || "nothing"}`, "trust init");
  const partitions = intOption(p, "partitions", 0, 1024);
  const trust = ensureTrust(path.resolve(dir), { partitions: partitions === 0 ? null : partitions });
  const written: string[] = [];
  for (const principal of servicePrincipals) {
    if (isCloudRole(principal)) continue;
    written.push(writeServiceCreds(trust, principal, principalPermissions(principal)));
  }
  written.push(writeServiceCreds(trust, rolesPrincipalName(roles as CloudRole[]), rolesPermissions(roles as CloudRole[])));
  // The FLEET account is preloaded here (an older preload never replaces the newer JWT the resolver holds after a push).
  const operator = { ...natsOperatorConfig(trust), resolverDir: stringOption(p, "resolver-dir")!, preload: { ...natsOperatorConfig(trust).preload, [trust.info.fleet]: fleetAccountJwt(trust, {}) } };
  const conf = path.join(trust.dir, "nats-operator.conf");
  writeSecret(conf, `# nats-server operator mode for xsfleet (written by \`xsfleet trust init\`; include it from nats.conf)\n${operatorConfigLines(operator).join("\n")}\n`);
  process.stdout.write(`trust in ${trust.dir} (operator ${trust.info.operator.slice(0, 8)}…, FLEET ${trust.info.fleet.slice(0, 8)}…, partitions ${trust.info.partitions ?? "none"})\n` +
    `  ${conf}\n${written.map((w) => `  ${w}`).join("\n")}\n`);
  return 0;
}
