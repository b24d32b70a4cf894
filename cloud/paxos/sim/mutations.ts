// Bugs the simulator must catch (the mutation check of
// test/cloud/paxos/sim/mutations.test.ts and `scripts/paxos-soak.ts
// --mutation NAME`). Each is one wrong line of a real implementation,
// planted by overriding a protected hook of the product core or by a flag of
// the simulated acceptor driver; none of them is reachable from the product.

import { Acceptor } from "../acceptor";
import { Proposer, type Promised } from "../proposer";
import { EMPTY_REGISTER } from "../types";
import type { RegisterState } from "../types";

export const Mutation = {
  /** The proposer treats one Accepted as a quorum. */
  AcceptWithoutQuorum: "accept-without-quorum",
  /** The acceptor driver sends replies before their writes are fsynced. */
  ReplyBeforePersist: "reply-before-persist",
  /** The acceptor accepts ballots below its promise. */
  IgnorePromise: "ignore-promise",
  /** The proposer changes the first promise's state, not the highest-ballot one. */
  ForgetAccepted: "forget-accepted",
} as const;
export type Mutation = (typeof Mutation)[keyof typeof Mutation];

export const MUTATIONS: readonly Mutation[] = Object.values(Mutation);

export function isMutation(s: string): s is Mutation {
  return (MUTATIONS as readonly string[]).includes(s);
}

export class ProposerAcceptingOne extends Proposer {
  protected override acceptQuorum(): number {
    return 1;
  }
}

export class ProposerTakingFirstPromise extends Proposer {
  protected override pickState(promises: readonly Promised[]): RegisterState {
    return promises[0]?.state ?? EMPTY_REGISTER;
  }
}

export class AcceptorIgnoringPromise extends Acceptor {
  protected override mayAccept(): boolean {
    return true;
  }
}
