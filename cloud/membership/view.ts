// Pure combination of the two detectors' opinions into one member status.
// Either detector can declare a node down first: heartbeats (timeout or
// phi-accrual over the node's own heartbeats) see a crash after a few
// missed intervals; SWIM sees it through probes from every member and
// spreads the verdict, and also catches one-way partitions where a node
// still publishes but cannot answer.

import { Liveness } from "../health";
import { MemberState } from "../health/swim";
import { MemberStatus } from "./types";

export function combineStatus(presence: Liveness, swim: MemberState | undefined): MemberStatus {
  if (presence === Liveness.Down || swim === MemberState.Dead || swim === MemberState.Left) return MemberStatus.Down;
  if (presence === Liveness.Suspect || swim === MemberState.Suspect) return MemberStatus.Suspect;
  if (presence === Liveness.Up || swim === MemberState.Alive) return MemberStatus.Up;
  return MemberStatus.Suspect;
}

/** What caused a status: which detector reached the verdict. */
export function statusCause(presence: Liveness, swim: MemberState | undefined, status: MemberStatus): "heartbeat" | "swim" | "both" {
  const byHb = status === MemberStatus.Down ? presence === Liveness.Down : status === MemberStatus.Suspect ? presence === Liveness.Suspect : presence === Liveness.Up;
  const bySwim = status === MemberStatus.Down ? swim === MemberState.Dead || swim === MemberState.Left
    : status === MemberStatus.Suspect ? swim === MemberState.Suspect : swim === MemberState.Alive;
  return byHb && bySwim ? "both" : bySwim ? "swim" : "heartbeat";
}
