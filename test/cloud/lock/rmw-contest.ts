// The read-modify-write contest of issue 16 (deliverable 7): contenders take
// one lock (TTL 500 ms) in turn, read a counter from a fenced store, some
// pause past their TTL (as a GC pause or SIGSTOP would), then write the
// counter + 1 with their fencing token. Every write the store accepts is an
// increment its writer was told succeeded; an accepted increment missing
// from the final value is a lost update.
//
// Run with the fenced compare-and-set (token AND version) and, as the
// control, with the token-only check on the same backend at the same time:
// the former must lose nothing; the latter loses updates whenever a lapsed
// holder writes between the next holder's read and write.
import { seededRandom, type RandomSource } from "../../../cloud/base";
import { FencedOutcome, VERSION_ABSENT, type DistributedLock, type FencedStore } from "../../../cloud/lock";
import { sleep } from "../../harness/wait";

export const CONTEST_TTL_MS = 500;
export const CONTENDERS = 20;

export type WriteMode = "fenced-cas" | "token-only";

export interface ContestResult {
  mode: WriteMode;
  /** Increments the store accepted (each writer was told it succeeded). */
  accepted: number;
  /** The counter at the end. */
  final: number;
  lost: number;
  /** Holders that slept past their TTL between read and write. */
  pauses: number;
  refusedStale: number;
  refusedVersion: number;
  rounds: number;
}

export interface ContestSetup {
  /** A lock client with its own owner id. */
  newLock: (ownerId: string) => DistributedLock;
  store: FencedStore<number>;
  key: string;
  lockName: string;
  mode: WriteMode;
  /** Stop after this many pauses past the TTL. */
  pausesTarget: number;
  seed: number;
}

async function contender(id: string, lock: DistributedLock, s: ContestSetup, r: ContestResult, random: RandomSource, done: () => boolean): Promise<void> {
  while (!done()) {
    const got = await lock.acquire(s.lockName, { ttlMs: CONTEST_TTL_MS, timeoutMs: 20_000 });
    if (!got.ok) continue;
    r.rounds++;
    const cur = await s.store.read(s.key);
    const pause = random() < 0.5;
    // A pause ends 50-300 ms after the lease did; work without a pause is short but not instant.
    await sleep(pause ? CONTEST_TTL_MS + 50 + Math.floor(random() * 250) : 20 + Math.floor(random() * 60));
    if (pause) r.pauses++;
    const next = (cur?.value ?? 0) + 1;
    const w = s.mode === "fenced-cas"
      ? await s.store.compareAndSet(s.key, got.lock.token, cur ? cur.version : VERSION_ABSENT, id, next)
      : await s.store.writeTokenOnly(s.key, got.lock.token, id, next);
    if (w.ok) r.accepted++;
    else if (w.error === FencedOutcome.StaleToken) r.refusedStale++;
    else r.refusedVersion++;
    await got.lock.release().catch(() => undefined);
  }
}

export async function runContest(s: ContestSetup): Promise<ContestResult> {
  const r: ContestResult = { mode: s.mode, accepted: 0, final: 0, lost: 0, pauses: 0, refusedStale: 0, refusedVersion: 0, rounds: 0 };
  const locks = Array.from({ length: CONTENDERS }, (_, i) => s.newLock(`${s.mode}-c${i}`));
  try {
    await Promise.all(locks.map((l, i) => contender(`c${i}`, l, s, r, seededRandom(s.seed + i), () => r.pauses >= s.pausesTarget)));
  } finally {
    await Promise.all(locks.map((l) => l.close()));
  }
  r.final = (await s.store.read(s.key))?.value ?? 0;
  r.lost = r.accepted - r.final;
  return r;
}

export function describeContest(backend: string, r: ContestResult): string {
  return `[lock] ${backend}, ${CONTENDERS} contenders, TTL ${CONTEST_TTL_MS} ms, ${r.mode}: ${r.accepted} increments accepted, counter ${r.final}, ` +
    `LOST ${r.lost}; ${r.pauses} holders paused past their TTL, ${r.refusedStale} writes refused as stale, ${r.refusedVersion} as version conflicts (${r.rounds} lock rounds)`;
}

/**
 * The fenced CAS and the token-only control, run at once on one backend (15
 * pauses each); the control is repeated up to 4 more rounds until it loses an
 * update (a lapsed holder landing inside the next holder's read-modify-write
 * is near certain with 15 pauses; a few more rounds make it certain enough to
 * assert). Returns the fenced run and the control's lost updates over all rounds.
 */
export async function contestFencedAgainstControl(
  backend: string,
  s: Pick<ContestSetup, "newLock" | "store">,
  lockName: (mode: WriteMode, round: number) => string,
): Promise<{ cas: ContestResult; controlLost: number }> {
  const seed = Date.now() % 100_000;
  const contest = (mode: WriteMode, round = 0): Promise<ContestResult> =>
    runContest({ ...s, key: `${mode}-${round}`, lockName: lockName(mode, round), mode, pausesTarget: 15, seed: seed + 1000 * round });
  const [cas, control] = await Promise.all([contest("fenced-cas"), contest("token-only")]);
  console.log(`${describeContest(backend, cas)}\n${describeContest(backend, control)} (seed ${seed})`);
  let controlLost = control.lost;
  for (let round = 1; controlLost === 0 && round <= 4; round++) {
    const more = await contest("token-only", round);
    console.log(describeContest(backend, more));
    controlLost += more.lost;
  }
  return { cas, controlLost };
}
