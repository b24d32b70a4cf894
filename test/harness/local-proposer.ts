// The control plane in the test process, without Raft: stamps nowMs like a
// leader would, encodes the envelope to the bytes a log entry would carry,
// and applies it at the next index. For tests that need a control plane
// behind the same `Proposer` interface as the Raft one (cloud/controlplane
// ControlClient.proposer()), so the clients (cloud/lock ControlPlaneLock,
// cloud/registry ControlPlaneRegistry, …) are the product's code; a manual
// clock makes leases expire when the test says. The product has no use for
// it (every process reaches the control plane through ControlClient).

import {
  CONTROL_FORMAT_VERSION, ControlError, encodeEnvelope, failure,
  type ApplyResult, type Command, type ControlStateMachine, type Envelope, type Proposer, type SessionRef,
} from "../../cloud/control";

export interface LocalProposerOptions {
  /** Leader clock; defaults to Date.now. Tests inject a manual clock. */
  nowMs?: () => number;
  /** Entries applied through this proposer, for a test to replay on a replica. */
  log?: Uint8Array[];
}

export function localProposer(sm: ControlStateMachine, opts: LocalProposerOptions = {}): Proposer {
  const nowMs = opts.nowMs ?? Date.now;
  return async (cmd: Command, session?: SessionRef): Promise<ApplyResult> => {
    const envelope: Envelope = session
      ? { v: CONTROL_FORMAT_VERSION, nowMs: nowMs(), session, cmd }
      : { v: CONTROL_FORMAT_VERSION, nowMs: nowMs(), cmd };
    let bytes: Uint8Array;
    try {
      bytes = encodeEnvelope(envelope, sm.limits);
    } catch (err) {
      // A leader validates before appending: invalid commands never reach the log.
      return failure(ControlError.InvalidCommand, (err as Error).message);
    }
    opts.log?.push(bytes);
    // Yield once so callers see the asynchrony a real log has.
    await Promise.resolve();
    return sm.apply(bytes, sm.appliedIndex + 1);
  };
}
