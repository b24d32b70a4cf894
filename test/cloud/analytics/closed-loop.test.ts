// The closed loop on a real stack: nats-server with the partition mapping,
// the Raft control plane (one replica in process), a cloud node with the
// api, commands and analytics roles, a sensor played by hand and an MQTT
// actuator that executes and acks commands. Rules are managed through the
// API (a bad definition is refused with every error named); a threshold rule
// raises one alert per episode, commands the actuator (fan on) and sees its
// ack, is acknowledged by the operator, clears and commands fan off.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { ApiClient, ApiEndpoint, ApiError } from "../../../cloud/api";
import { actionCommandId } from "../../../cloud/analytics";
import { ruleEventSubject } from "../../../cloud/subjects";
import type { CloudNode } from "../../../cloud/node/node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { startControlPlaneInProcess, type InProcessControlPlane } from "../../harness/control-plane";
import { telemetryEnvelope } from "../../harness/envelopes";
import { until } from "../../harness/wait";
import { startTestNode, testPartitions } from "../api/fixture";
import { startTestDevice, type TestDevice } from "../api/mqtt-device";
import { publishUplink } from "./helpers";

const rule = {
  id: "fan-on-humid", name: "humidity above 45 % → fan on; below 42 % → fan off",
  match: { devices: ["sensor-1"], channel: "humidity" },
  when: { kind: "threshold", above: 45, clearBelow: 42 },
  actions: [
    { kind: "command", device: "act-1", command: "fan", args: { on: true }, on: "raise" },
    { kind: "command", device: "act-1", command: "fan", args: { on: false }, on: "clear" },
    { kind: "event", on: "raise" },
  ],
};

describe("analytics: rules API and the closed loop", () => {
  let nats: NatsCluster;
  let cp: InProcessControlPlane;
  let node: CloudNode;
  let nc: NatsConnection;
  let api: ApiClient;
  let actuator: TestDevice;
  beforeAll(async () => {
    nats = await startNats({ partitions: testPartitions });
    cp = await startControlPlaneInProcess(nats.servers);
    node = await startTestNode(nats.servers, { roles: ["api", "commands", "analytics"] });
    nc = await connect({ servers: nats.servers });
    api = new ApiClient(nc, { timeoutMs: 10_000 });
    actuator = await startTestDevice({ deviceId: "act-1", mqttUrl: nats.nodes[0]!.mqttUrl });
    await actuator.hello();
  }, 60_000);
  afterAll(async () => {
    await actuator?.close();
    await nc?.close();
    await node?.stop();
    await cp?.stop();
    await nats?.stop();
  });

  it("refuses bad rule definitions with every problem named, and stores nothing", async () => {
    const bad = { id: "bad rule", match: { channel: "" }, when: { kind: "threshold" }, actions: [{ kind: "command", on: "raise" }], colour: "red" };
    const err = await api.call(ApiEndpoint.RulesPut, { rule: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("bad_request");
    const msg = (err as ApiError).message;
    for (const field of ["id", "match.channel", "when", "actions[0]", "colour"]) expect(msg, `names ${field}`).toContain(field);
    expect((await api.call(ApiEndpoint.RulesList, {})).rules).toEqual([]);
  });

  it("a threshold rule raises once per episode, commands the actuator and sees its ack, is acknowledged, clears and commands fan off", async () => {
    const put = await api.call(ApiEndpoint.RulesPut, { rule, expectedVersion: 0 });
    expect(put.rule.version).toBe(1);
    // Creating it again with expectedVersion 0 is a conflict.
    await expect(api.call(ApiEndpoint.RulesPut, { rule, expectedVersion: 0 })).rejects.toMatchObject({ code: "conflict" });
    const js = jetstream(nc);
    const events: unknown[] = [];
    const sub = nc.subscribe(ruleEventSubject(rule.id));
    void (async () => { for await (const m of sub) events.push(m.json()); })();
    // Humidity of batch s is 40 + ((3s + i) mod 200) / 10 for its points i < 10: every point above 45 (and
    // none wrapping back to 40, which would clear the alert) when 51 ≤ 3s mod 200 ≤ 190. Only such batches are
    // sent until the alert is acknowledged, however long the node takes to apply the stored rule. Device time is now.
    let seq = 16;
    const nextHighSeq = (): number => {
      do seq++; while ((3 * seq) % 200 < 51 || (3 * seq) % 200 > 190);
      return seq;
    };
    const publishBatch = async (s: number): Promise<void> => { await publishUplink(js, telemetryEnvelope("sensor-1", s, 10, Date.now() - s * 10_000), undefined, testPartitions); };
    let sent = 0;
    await until("the rule raised an alert (the node applies stored rules within seconds)", async () => {
      if (sent++ < 200) await publishBatch(nextHighSeq());
      const r = await api.call(ApiEndpoint.AlertsList, { ruleId: rule.id });
      return r.alerts.some((a) => a.state === "raised");
    }, 60_000);
    const onId = actionCommandId(`${rule.id}:sensor-1:1:raised`, 0);
    await until("the actuator executed fan on and the command is acked", async () => {
      const c = await api.call(ApiEndpoint.CommandsGet, { deviceId: "act-1", commandId: onId }).catch(() => null);
      return actuator.executed.get(onId) === 1 && c?.command.state === "acked";
    }, 30_000);
    expect(actuator.received.find((c) => c.commandId === onId)).toMatchObject({ name: "fan", argsJson: JSON.stringify({ on: true }) });

    // More high points: the same episode, no second alert.
    for (let i = 0; i < 5; i++) await publishBatch(nextHighSeq());
    const acked = await api.call(ApiEndpoint.AlertsAck, { ruleId: rule.id, key: "sensor-1", episode: 1, by: "test" });
    expect(acked.alert).toMatchObject({ state: "acknowledged", ackedBy: "test" });

    // Humidity falls to 40 (batch 10000): the alert clears, the fan goes off.
    await publishUplink(js, telemetryEnvelope("sensor-1", 10_000, 1, Date.now() - 10_000 * 10_000 + 60_000), undefined, testPartitions);
    // A transition carries only the actions of its state: fan off is the clear transition's action 0.
    const offId = actionCommandId(`${rule.id}:sensor-1:1:cleared`, 0);
    await until("the alert cleared and fan off was executed", async () => {
      const r = await api.call(ApiEndpoint.AlertsList, { ruleId: rule.id });
      return r.alerts.some((a) => a.state === "cleared") && actuator.executed.get(offId) === 1;
    }, 30_000);
    const list = await api.call(ApiEndpoint.AlertsList, { ruleId: rule.id });
    expect(list.alerts).toHaveLength(1);
    expect(list.alerts[0]).toMatchObject({ episode: 1, state: "cleared", ackedBy: "test" });
    const history = await api.call(ApiEndpoint.AlertsHistory, { ruleId: rule.id });
    expect(history.events.map((e) => e.state)).toEqual(["raised", "acknowledged", "cleared"]);
    await until("the event action published", () => events.length === 1, 10_000);
    sub.unsubscribe();

    // The windows of the sensor are queryable.
    const w = await api.call(ApiEndpoint.AnalyticsWindows, { deviceId: "sensor-1", fromMs: 0, toMs: Date.now() });
    expect(w.windows.length).toBeGreaterThan(0);
    expect(w.windows[0]).toMatchObject({ operator: "1m", key: "sensor-1" });

    // Delete: the list is empty again.
    await api.call(ApiEndpoint.RulesDelete, { ruleId: rule.id });
    expect((await api.call(ApiEndpoint.RulesList, {})).rules).toEqual([]);
  }, 120_000);
});
