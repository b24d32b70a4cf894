// Device shadow reports in ingest's partitioned pipeline, against a real
// nats-server: a heartbeat carrying a shadow report is joined into the
// device's reported document under the device's key, at least once — a
// failure between the merge and the state write (fault injection) makes the
// pipeline attempt the batch again (after a real crash the server
// redelivers it), the report is merged again and the document is the same
// (a join) — and a malformed report is counted and skipped without
// holding up the device's messages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { admitAllDevices, startIngestRole, type IngestRole } from "../../../cloud/ingest";
import { ControlStateMachine } from "../../../cloud/control";
import { ShadowStore, shadowReportMerger } from "../../../cloud/shadow";
import { deviceSubject } from "../../../cloud/subjects";
import { dvvEmpty, dvvPut } from "../../../shared/clock/dvv";
import { fieldsToWire } from "../../../shared/clock/dvv-wire";
import { encodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { Uplink } from "../../../shared/topics";
import { startNats, type NatsCluster } from "../../harness/nats";
import { localProposer } from "../../harness/local-proposer";
import { heartbeatEnvelope } from "../../harness/envelopes";
import { waitFor } from "../../harness/wait";
import { quietLog } from "../ingest/helpers";

describe("shadow reports through ingest", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let store: ShadowStore;
  let role: IngestRole;
  const crashOnce = new Set<string>();

  beforeAll(async () => {
    nats = await startNats({ partitions: 16 });
    nc = await connect({ servers: nats.servers });
    store = await ShadowStore.open(nc);
    role = await startIngestRole({
      nc, nodeId: "ingest-shadow", control: localProposer(new ControlStateMachine()), admission: admitAllDevices, config: { ackWaitMs: 5_000 }, log: quietLog,
      shadowReports: shadowReportMerger(store),
      // A crash after the report was merged, before the device state is written: the batch is redelivered.
      faults: { beforeCas: (id) => { if (crashOnce.delete(id)) throw new Error("injected crash before the state write"); } },
    });
  }, 60_000);
  afterAll(async () => {
    await role?.stop();
    await nc?.close();
    await nats?.stop();
  });

  const publish = (env: Envelope): void => nc.publish(deviceSubject(env.deviceId, Uplink.Heartbeat), encodeEnvelope(env));

  it("joins a heartbeat's report at least once: a crash before the state write merges again, same document", async () => {
    const id = "rep-dev-1";
    const led = dvvPut(dvvEmpty(), JSON.stringify("on"), {}, "dev").set;
    crashOnce.add(id);
    const before = role.stats();
    publish({ ...heartbeatEnvelope(id, 1, 1), shadowReport: { fields: fieldsToWire({ led }) } });
    await waitFor("the report merged twice (first attempt crashed, retry) and the heartbeat applied", () => {
      const s = role.stats();
      return s.shadowReports - before.shadowReports >= 2 && s.applied > before.applied;
    }, { timeoutMs: 30_000, detail: () => JSON.stringify(role.stats()) });
    expect(crashOnce.has(id)).toBe(false);
    expect(role.stats().batchFailures).toBe(before.batchFailures);
    const doc = (await store.get(id)).reported;
    expect(doc.writers).toEqual(["dev"]);
    expect(doc.fields.led!.siblings).toEqual([{ writer: "dev", counter: 1, value: "on" }]);

    // A later report (the device changed it) replaces it; a stale repeat of the first changes nothing.
    const off = dvvPut(led, JSON.stringify("off"), led.context, "dev").set;
    publish({ ...heartbeatEnvelope(id, 2, 2), shadowReport: { fields: fieldsToWire({ led: off }) } });
    publish({ ...heartbeatEnvelope(id, 3, 3), shadowReport: { fields: fieldsToWire({ led }) } });
    await waitFor("both merged", () => role.stats().shadowReports - before.shadowReports >= 4, { detail: () => JSON.stringify(role.stats()) });
    expect((await store.get(id)).reported.fields.led!.siblings).toEqual([{ writer: "dev", counter: 2, value: "off" }]);
  }, 60_000);

  it("counts and skips a malformed report; the heartbeat is still applied", async () => {
    const id = "rep-dev-2";
    const before = role.stats();
    // A value that is not JSON: the device's fault, not a reason to redeliver forever.
    publish({ ...heartbeatEnvelope(id, 1, 1), shadowReport: { fields: [{ name: "t", values: [{ writer: "dev", counter: 1, valueJson: "not json" }], context: [{ writer: "dev", counter: 1 }] }] } });
    await waitFor("the malformed report counted and the heartbeat applied", () => {
      const s = role.stats();
      return s.shadowReportsRejected > before.shadowReportsRejected && s.applied > before.applied;
    }, { detail: () => JSON.stringify(role.stats()) });
    expect(role.stats().batchFailures).toBe(before.batchFailures);
    expect((await store.get(id)).reported.fields).toEqual({});
  }, 30_000);
});
