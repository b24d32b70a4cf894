// xsfleet: one CLI for the local stack, simulated fleets and cloud nodes.
// Subcommands load lazily so `--help` answers at once.
import { UsageError } from "./args";

interface Subcommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, Subcommand> = {
  up: {
    summary: "run the local stack: nats-server (JetStream + MQTT), cloud nodes, a simulated fleet, live status",
    run: async (argv) => (await import("./up")).runUp(argv),
  },
  sim: {
    summary: "attach a simulated fleet (real firmware code on the host port) to any MQTT broker",
    run: async (argv) => (await import("./sim")).runSim(argv),
  },
  cloud: {
    summary: "run one cloud node with the roles named in its configuration",
    run: async (argv) => (await import("./cloud")).runCloud(argv),
  },
  status: {
    summary: "print fleet and cluster status from a running system",
    run: async (argv) => (await import("./status")).runStatus(argv),
  },
  backup: {
    summary: "back up a running system: the Raft control plane and the KV buckets (progress on stderr)",
    run: async (argv) => (await import("./backup")).runBackupCommand(argv),
  },
  restore: {
    summary: "restore a backup into a fresh system (control plane, KV buckets, streams), verified",
    run: async (argv) => (await import("./backup")).runRestoreCommand(argv),
  },
  claims: {
    summary: "one-time provisioning claims: create (prints tokens to flash), list, revoke",
    run: async (argv) => (await import("./claims")).runClaims(argv),
  },
  credentials: {
    summary: "revoke a device's credentials (disconnects it; it needs a new claim)",
    run: async (argv) => (await import("./claims")).runCredentials(argv),
  },
  rules: {
    summary: "alert rules of the analytics role: list, put <file>, delete <id>",
    run: async (argv) => (await import("./rules")).runRules(argv),
  },
  trust: {
    summary: "create the keys and creds of a secured deployment (containers): trust init",
    run: async (argv) => (await import("./trust")).runTrust(argv),
  },
};

function mainHelp(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `xsfleet — IoT fleets on Moddable XS devices and a NATS JetStream cloud tier

Usage: xsfleet <command> [options]

Commands:
${rows.join("\n")}

Run \`xsfleet <command> --help\` for a command's options.
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(mainHelp());
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`xsfleet: unknown command "${name}".\n\n${mainHelp()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`xsfleet ${name}: ${e.message}\nRun \`xsfleet ${name} --help\` for the options.\n`);
      return 2;
    }
    process.stderr.write(`xsfleet ${name}: ${(e as Error).message}\n`);
    if (process.env.XSFLEET_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

/** A finished command whose process still runs after this has leaked a handle (socket, timer). */
const exitGraceMs = 2_000;

/** The process normally ends on its own once the command returns. If a
 *  library left something open, say what, and end it anyway: a stopped
 *  node or stack must not hang around. */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles?.() ?? [];
    const names = handles.map((h) => h.constructor.name).filter((n) => n !== "WriteStream" && n !== "ReadStream");
    process.stderr.write(`xsfleet: still running ${exitGraceMs} ms after finishing (open: ${names.join(", ") || "nothing visible"}); exiting\n`);
    process.exit(code);
  }, exitGraceMs).unref();
}

main(process.argv.slice(2)).then(
  (code) => exitSoon(code),
  (e) => { process.stderr.write(`xsfleet: ${(e as Error).stack}\n`); exitSoon(1); },
);
