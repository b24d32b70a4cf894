// fast-check generators of control-plane commands over small pools of names,
// so generated sequences collide (same lock, same device) and exercise
// conflicts, expiry and re-acquisition rather than only happy paths.
import fc from "fast-check";
import { CommandKind as K, RetiredCommandKind, type Command, type SessionRef } from "../../../cloud/control/types";

const devices = fc.constantFrom("d1", "d2", "d3");
const names = fc.constantFrom("L1", "L2");
const holders = fc.constantFrom("A", "B", "C");
const nodes = fc.constantFrom("n1", "n2");
const roles = fc.constantFrom("scheduler", "shard/1");
const ttl = fc.integer({ min: 1, max: 400 });
const small = fc.integer({ min: 0, max: 6 });
const metadata = fc.dictionary(fc.constantFrom("room", "fw", "hw"), fc.string({ maxLength: 8 }), { maxKeys: 3 });
const resources = fc.record({ cpuMillis: fc.integer({ min: 0, max: 4000 }), memoryBytes: fc.integer({ min: 0, max: 1e9 }) });

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.constant({ kind: K.Tick }),
  fc.record({ kind: fc.constant(K.DeviceRegister), deviceId: devices, role: fc.constantFrom("sensor", "gateway"), metadata }),
  fc.record({ kind: fc.constant(K.DeviceUpdateMetadata), deviceId: devices, metadata, expectedRevision: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant(K.DeviceDecommission), deviceId: devices }),
  fc.record({ kind: fc.constant(K.DeviceGet), deviceId: devices }),
  fc.record({ kind: fc.constant(K.DeviceList), limit: fc.integer({ min: 1, max: 3 }) }),
  // Retired kinds of older logs: they apply as failures that change nothing.
  fc.constant({ kind: RetiredCommandKind.ConfigSet }),
  fc.record({ kind: fc.constant(K.LeaseGrant), holder: holders, ttlMs: ttl }),
  fc.record({ kind: fc.constant(K.LeaseKeepAlive), leaseId: fc.integer({ min: 1, max: 6 }), holder: holders }),
  fc.record({ kind: fc.constant(K.LeaseRevoke), leaseId: fc.integer({ min: 1, max: 6 }), holder: holders }),
  fc.record({ kind: fc.constant(K.RoleAcquire), role: roles, nodeId: nodes, ttlMs: ttl }),
  fc.record({ kind: fc.constant(K.RoleRelease), role: roles, nodeId: nodes }),
  fc.record({ kind: fc.constant(K.RoleGet), role: roles }),
  fc.record({ kind: fc.constant(K.LockTryAcquire), name: names, holder: holders, ttlMs: ttl }),
  fc.record({ kind: fc.constant(K.LockRelease), name: names, holder: holders, token: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant(K.LockExtend), name: names, holder: holders, token: fc.integer({ min: 1, max: 8 }), ttlMs: ttl }),
  fc.record({ kind: fc.constant(K.LockCheckFence), name: names, token: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant(K.MemberJoin), nodeId: nodes, address: fc.constant("h:1"), roles: fc.subarray(["analytics", "ingest", "orchestration"] as const), resources, ttlMs: ttl }),
  fc.record({ kind: fc.constant(K.MemberHeartbeat), nodeId: nodes, incarnation: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant(K.MemberLeave), nodeId: nodes, incarnation: fc.integer({ min: 1, max: 4 }) }),
  fc.constant({ kind: K.MemberList }),
) as fc.Arbitrary<Command>;

export interface Step {
  cmd: Command;
  /** Leader time step; negative sometimes (a new leader's lagging clock). */
  dtMs: number;
  session?: SessionRef;
}

export const stepArb: fc.Arbitrary<Step> = fc.record({
  cmd: commandArb,
  dtMs: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 150 }) }, { weight: 1, arbitrary: fc.integer({ min: -200, max: -1 }) }),
  session: fc.option(fc.record({ clientId: fc.constantFrom("c1", "c2"), seq: fc.integer({ min: 1, max: 12 }) }), { nil: undefined }),
}, { requiredKeys: ["cmd", "dtMs"] });
