// Shared pieces of the analytics tests: a broker with XSF_UP, devices played
// by hand (encoded envelopes published straight onto their partition's
// subject, as the broker's mapping would put them), analytics nodes with a
// control plane in the test process whose link a test can cut (a frozen or
// killed node stops renewing its leases), and a reader of whole streams.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { silentLogger } from "../../../cloud/base";
import { ControlStateMachine, type Proposer } from "../../../cloud/control";
import { ensureUplinkStream } from "../../../cloud/ingest";
import { startAnalyticsRole, type AnalyticsDeps, type AnalyticsRole, type OperatorConfig } from "../../../cloud/analytics";
import { partitionedUplinkSubject } from "../../../cloud/subjects";
import { encodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { Uplink } from "../../../shared/topics";
import type { RuleDef } from "../../../shared/stream";
import { localProposer } from "../../harness/local-proposer";

export const testPartitions = 2;

export async function prepareBroker(url: string): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
  const nc = await connect({ servers: url });
  await ensureUplinkStream(await jetstreamManager(nc), { replicas: 1, messageBytesMax: 64 * 1024 });
  return { nc, js: jetstream(nc) };
}

export async function publishUplink(js: JetStreamClient, env: Envelope, kind: Uplink = Uplink.Telemetry, partitions = testPartitions): Promise<number> {
  const ack = await js.publish(partitionedUplinkSubject(env.deviceId, kind, partitions), encodeEnvelope(env));
  return ack.seq;
}

/** A control plane in the test process; `cut(node)` makes every call of that node fail (as if it died). */
export function severableControl(): { forNode(id: string): Proposer; cut(id: string): void } {
  const base = localProposer(new ControlStateMachine());
  const cut = new Set<string>();
  return {
    forNode: (id) => async (cmd, session) => {
      // A dead node's requests never arrive: the client sees timeouts.
      if (cut.has(id)) throw new Error(`${id} is cut off from the control plane`);
      return base(cmd, session);
    },
    cut: (id) => { cut.add(id); },
  };
}

export const testOperators: OperatorConfig[] = [
  { id: "w1m", spec: { kind: "tumbling", sizeMs: 60_000 }, allowedLatenessMs: 120_000, aggregates: ["p50", "p99"] },
];

export interface TestNode { nc: NatsConnection; role: AnalyticsRole }

export async function startNode(url: string, nodeId: string, propose: Proposer, rules: RuleDef[], extra: Partial<AnalyticsDeps> = {}): Promise<TestNode> {
  const nc = await connect({ servers: url, name: nodeId });
  const role = await startAnalyticsRole({
    nc, nodeId, ingest: { partitions: testPartitions, replicas: 1, ensureStreams: false }, operators: testOperators, rules, control: propose,
    commands: null, log: silentLogger, // Idle ticks (wall clock) are the one input a replay does not reproduce; these tests compare replays.
    settings: { ownershipTtlMs: 1_500, batchMax: 16, idleTickMs: 600_000, ...extra.settings },
    failover: { holdOffMs: 0 }, ...extra,
  });
  return { nc, role };
}

/** Every message of `stream` now: subject, Nats-Msg-Id and JSON body, in stream order. */
export async function readStream(js: JetStreamClient, stream: string): Promise<Array<{ subject: string; id: string; body: Record<string, unknown> }>> {
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: Array<{ subject: string; id: string; body: Record<string, unknown> }> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    out.push({ subject: m.subject, id: m.header?.get("Nats-Msg-Id") ?? "", body: m.json<Record<string, unknown>>() });
  }
  return out;
}
