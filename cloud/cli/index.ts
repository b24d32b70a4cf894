// Public entry of the xsfleet CLI: bin/xsfleet.mjs runs main.ts; the
// subcommands (up, sim, cloud, status) load lazily from there.
export { FleetProbe, type FleetSnapshot } from "./fleet-probe";
export { UsageError, parseCommand, helpText, type CommandSpec, type OptionSpec } from "./args";
