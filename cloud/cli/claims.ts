// `xsfleet claims create|list|revoke` and `xsfleet credentials revoke`:
// the trust endpoints of the management API (served by the provisioning
// role) from the command line. A claim token is printed once, at creation:
// flash it as the device's `claim` config (README "Security").
import { ApiClient, type ClaimView, type CreatedClaim } from "../api";
import { intOption, parseCommand, stringOption, UsageError, type CommandSpec, type Parsed } from "./args";
import { cliConnect, connectionOptionSpecs } from "./cli-connection";

const claimStates = ["open", "used", "done", "revoked"] as const;

export const claimsSpecs: Record<"create" | "list" | "revoke", CommandSpec> = {
  create: {
    name: "claims create",
    summary: "Create one-time provisioning claims: one per --device, or --count claims for any device id. Prints each claim token once.",
    usage: "xsfleet claims create (--device ID ... | --count N) [--ttl SECONDS] [--note TEXT] [--json]",
    options: {
      ...connectionOptionSpecs,
      device: { type: "string", value: "ID", description: "the device id the claim may provision; repeatable", multiple: true },
      count: { type: "string", value: "N", description: "claims for any device id (the device reports its id)" },
      ttl: { type: "string", value: "S", description: "seconds until the claim expires (default: the provisioning role's claimTtlS, 24 h)" },
      note: { type: "string", value: "TEXT", description: "kept with the claim, shown by list" },
      json: { type: "boolean", description: "print the claims as JSON (for `xsfleet sim --claims FILE`)" },
    },
    examples: ["xsfleet claims create --device greenhouse-7", "xsfleet claims create --count 20 --ttl 604800 --json > claims.json"],
  },
  list: {
    name: "claims list",
    summary: "List provisioning claims (never their tokens).",
    usage: "xsfleet claims list [--state open|used|done|revoked] [--limit N] [--json]",
    options: {
      ...connectionOptionSpecs,
      state: { type: "string", value: "STATE", description: `only claims in this state (${claimStates.join(", ")})` },
      limit: { type: "string", value: "N", description: "at most N claims", default: "100" },
      json: { type: "boolean", description: "print JSON" },
    },
  },
  revoke: {
    name: "claims revoke",
    summary: "Revoke a claim: it can no longer provision a device, and its key is refused by the broker.",
    usage: "xsfleet claims revoke --claim CLAIM_ID",
    options: { ...connectionOptionSpecs, claim: { type: "string", value: "CLAIM_ID", description: "the claim to revoke" } },
  },
};

export const credentialsRevokeSpec: CommandSpec = {
  name: "credentials revoke",
  summary: "Revoke every credential of a device: it is disconnected within seconds and cannot reconnect until provisioned again with a new claim.",
  usage: "xsfleet credentials revoke --device ID",
  options: { ...connectionOptionSpecs, device: { type: "string", value: "ID", description: "the device" } },
};

function subcommandHelp(group: string, specs: Record<string, CommandSpec>): string {
  return `xsfleet ${group} <action> [options]\n\nActions:\n${Object.entries(specs).map(([a, s]) => `  ${a.padEnd(8)} ${s.summary}`).join("\n")}\n\n` +
    `Run \`xsfleet ${group} <action> --help\` for its options.\n`;
}

async function withApi<T>(p: Parsed, f: (api: ApiClient) => Promise<T>): Promise<T> {
  const nc = await cliConnect(p, "xsfleet-cli");
  try {
    return await f(new ApiClient(nc, { timeoutMs: 30_000 }));
  } finally {
    await nc.close();
  }
}

function when(ms: number | undefined): string {
  return ms === undefined ? "-" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

function row(c: ClaimView): string {
  return `${c.claimId}  ${c.state.padEnd(7)}  device ${c.deviceId ?? "(any)"}  expires ${when(c.expiresMs)}${c.usedBy ? `  used by ${c.usedBy} at ${when(c.usedMs)}` : ""}${c.note ? `  "${c.note}"` : ""}`;
}

export async function runClaims(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (!action || action === "--help" || action === "-h") {
    process.stdout.write(subcommandHelp("claims", claimsSpecs));
    return 0;
  }
  const spec = claimsSpecs[action as keyof typeof claimsSpecs];
  if (!spec) throw new UsageError(`unknown action "${action}"; use create, list or revoke`, "claims");
  const p = parseCommand(spec, rest);
  if (!p) return 0;
  if (action === "create") {
    const devices = (p.device as string[] | undefined) ?? [];
    const count = stringOption(p, "count") !== undefined ? intOption(p, "count", 1, 800) : undefined;
    if (devices.length > 0 && count !== undefined) throw new UsageError("give --device (one claim per device) or --count, not both", "claims create");
    const ttlS = stringOption(p, "ttl") !== undefined ? intOption(p, "ttl", 60, 30 * 24 * 3600) : undefined;
    const note = stringOption(p, "note");
    const claims: CreatedClaim[] = await withApi(p, (api) => api.createClaims({
      ...(devices.length > 0 ? { deviceIds: devices } : { count: count ?? 1 }), ...(ttlS !== undefined ? { ttlS } : {}), ...(note !== undefined ? { note } : {}),
    }));
    if (p.json) process.stdout.write(`${JSON.stringify(claims, null, 2)}\n`);
    else {
      for (const c of claims) {
        process.stdout.write(`${row(c)}\n  token (shown once; flash it as the device's claim): ${c.token}\n` +
          `  mcconfig -d -m -p esp32/nodemcu manifests/sensor.json ssid=… password=… mqttHost=… deviceId=${c.deviceId ?? "<id>"} claim=${c.token}\n`);
      }
    }
    return 0;
  }
  if (action === "list") {
    const state = stringOption(p, "state");
    if (state !== undefined && !(claimStates as readonly string[]).includes(state)) throw new UsageError(`--state must be one of ${claimStates.join(", ")}`, "claims list");
    const limit = intOption(p, "limit", 1, 1000);
    const r = await withApi(p, (api) => api.listClaims({ limit, ...(state ? { state: state as ClaimView["state"] } : {}) }));
    if (p.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else process.stdout.write(r.claims.length === 0 ? "no claims\n" : `${r.claims.map(row).join("\n")}\n${r.next ? `(more after ${r.next})\n` : ""}`);
    return 0;
  }
  const claimId = stringOption(p, "claim");
  if (!claimId) throw new UsageError("--claim CLAIM_ID is required", "claims revoke");
  const c = await withApi(p, (api) => api.revokeClaim(claimId));
  process.stdout.write(`${row(c)}\n`);
  return 0;
}

export async function runCredentials(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (!action || action === "--help" || action === "-h") {
    process.stdout.write(subcommandHelp("credentials", { revoke: credentialsRevokeSpec }));
    return 0;
  }
  if (action !== "revoke") throw new UsageError(`unknown action "${action}"; use revoke`, "credentials");
  const p = parseCommand(credentialsRevokeSpec, rest);
  if (!p) return 0;
  const deviceId = stringOption(p, "device");
  if (!deviceId) throw new UsageError("--device ID is required", "credentials revoke");
  const n = await withApi(p, (api) => api.revokeCredentials(deviceId, "operator"));
  process.stdout.write(`${deviceId}: ${n} credential(s) revoked${n === 0 ? " (it held none)" : "; its connections are closed and refused"}\n`);
  return 0;
}
