// SWIM defaults and the scaling formulas, mirroring hashicorp/memberlist's
// DefaultLANConfig and util.go (retransmitLimit, suspicionTimeout).

import type { SwimConfig } from "./types";

export const SWIM_LAN_DEFAULTS: Readonly<SwimConfig> = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  // Not memberlist (Serf's reconnect_interval): heals partitions.
  reconnectIntervalMs: 30_000,
  deadRetentionMs: 300_000,
  awarenessMaxMultiplier: 8,
  nackEnabled: true,
  buddySystem: true,
  membersMax: 4096,
  broadcastsMax: 8192,
  // memberlist packs updates into a 1400-byte UDP packet; ~16 fit.
  piggybackMax: 16,
  outboxMax: 65_536,
  pendingIndirectMax: 1024,
  eventsMax: 65_536,
});

/** Retransmissions per update: retransmitMult * ceil(log10(n + 1)). */
export function retransmitLimit(retransmitMult: number, members: number): number {
  return retransmitMult * Math.ceil(Math.log10(members + 1));
}

/** Minimum suspicion timeout: suspicionMult * max(1, log10(max(1, n))) * interval. */
export function suspicionTimeoutMs(suspicionMult: number, members: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, members)));
  return Math.floor(suspicionMult * nodeScale * probeIntervalMs);
}

export function resolveSwimConfig(partial: Partial<SwimConfig> | undefined): SwimConfig {
  const config: SwimConfig = { ...SWIM_LAN_DEFAULTS, ...partial };
  const fail = (message: string): never => {
    throw new Error(`invalid SWIM config: ${message}`);
  };
  const int = (name: keyof SwimConfig, min: number): void => {
    const v = config[name] as number;
    if (!Number.isSafeInteger(v) || v < min) fail(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int("probeIntervalMs", 1);
  int("probeTimeoutMs", 1);
  int("indirectChecks", 0);
  int("suspicionMult", 1);
  int("suspicionMaxTimeoutMult", 1);
  int("retransmitMult", 1);
  int("gossipIntervalMs", 1);
  int("gossipNodes", 0);
  int("gossipToTheDeadMs", 0);
  int("pushPullIntervalMs", 0);
  int("reconnectIntervalMs", 0);
  int("deadRetentionMs", 0);
  int("awarenessMaxMultiplier", 1);
  int("membersMax", 2);
  int("broadcastsMax", 1);
  int("piggybackMax", 1);
  int("outboxMax", 1);
  int("pendingIndirectMax", 0);
  int("eventsMax", 1);
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    fail(`probeTimeoutMs (${config.probeTimeoutMs}) must be below probeIntervalMs (${config.probeIntervalMs})`);
  }
  return config;
}
