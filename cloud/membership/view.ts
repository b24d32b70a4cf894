// Pure combination of the two detectors' opinions into one member status.
// Either detector can declare a node down first: heartbeats (timeout or
// phi-accrual over the node's own heartbeats) see a crash after a few
// missed intervals; SWIM sees it through probes from every member and
// spreads the verdict, and also catches one-way partitions where a node
// still publishes but cannot answer.

import { Presence } from "../health";
import { MemberState } from "../health/swim";

export type MemberStatus = "up" | "suspect" | "down";

export function combineStatus(presence: Presence, swim: MemberState | undefined): MemberStatus {
  if (presence === Presence.Down || swim === MemberState.Dead || swim === MemberState.Left) return "down";
  if (presence === Presence.Suspect || swim === MemberState.Suspect) return "suspect";
  if (presence === Presence.Up || swim === MemberState.Alive) return "up";
  return "suspect";
}

/** What caused a status: which detector reached the verdict. */
export function statusCause(presence: Presence, swim: MemberState | undefined, status: MemberStatus): "heartbeat" | "swim" | "both" {
  const byHb = status === "down" ? presence === Presence.Down : status === "suspect" ? presence === Presence.Suspect : presence === Presence.Up;
  const bySwim =
    status === "down" ? swim === MemberState.Dead || swim === MemberState.Left : status === "suspect" ? swim === MemberState.Suspect : swim === MemberState.Alive;
  return byHb && bySwim ? "both" : bySwim ? "swim" : "heartbeat";
}
