// The firmware on the real XS engine: whole sensor and actuator scenarios
// (fake clock, in-memory broker with lost and duplicated messages, the cloud
// stand-in's receipts — lost, withheld, resent for — outage, reconnect,
// commands, config, crash and reboot) publish exactly the same bytes on XS
// as on Node, and receive the same receipts.
import { describe, expect, it } from "vitest";
import { runManyOnXs } from "../harness/xs";
import run, { type ScenarioInput } from "./entries/firmware-scenario";
import type { ActuatorScenarioResult, SensorScenarioResult } from "../../firmware/sim/scenario";
import { loadRoomClimateFile } from "../../firmware/host/room-climate";
import { AckStatus, decodeEnvelope } from "../../shared/proto/xsfleet.gen";

function hexToBytes(hex: string): Uint8Array {
  const b = new Uint8Array(hex.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return b;
}

describe("firmware on XS", () => {
  const rows = loadRoomClimateFile("location_A-measurement02.csv").get(3)!.slice(0, 300);
  const sensorInput: ScenarioInput = { kind: "sensor", seed: 42, deviceId: "xs-node-1", rows, speedup: 20, phaseMs: 30_000 };
  const actuatorInput: ScenarioInput = { kind: "actuator", seed: 7, deviceId: "xs-act-1" };
  const onXs = runManyOnXs<SensorScenarioResult | ActuatorScenarioResult>("test/xs/entries/firmware-scenario.ts", [sensorInput, actuatorInput]);

  it("a sensor node publishes byte-identical messages on XS and on Node", async () => {
    const onNode = run(sensorInput) as SensorScenarioResult;
    const xs = (await onXs)[0]!.result as SensorScenarioResult;

    expect(onNode.messages.length).toBeGreaterThan(40);
    const kinds = new Set(onNode.messages.map((m) => m.topic.split("/").pop()));
    for (const k of ["status", "hello", "hb", "tele", "ctr", "ack"]) expect(kinds).toContain(k);
    expect(onNode.messages.some((m) => m.will)).toBe(true);
    expect(xs.messages.length).toBe(onNode.messages.length);
    for (let i = 0; i < onNode.messages.length; i++) expect(xs.messages[i]).toEqual(onNode.messages[i]);
    expect(xs.before).toEqual(onNode.before);
    expect(xs.after).toEqual(onNode.after);
    expect(xs.receipts).toEqual(onNode.receipts);
    expect(xs.cloud).toEqual(onNode.cloud);

    // End-to-end delivery was exercised: receipts confirmed messages, some
    // were lost or withheld (resends), broker duplicates met the dedup.
    expect(onNode.receipts.length).toBeGreaterThan(10);
    expect(onNode.before.confirmed + onNode.after.confirmed).toBeGreaterThan(10);
    expect(onNode.before.retransmits).toBeGreaterThan(0); // lost receipts and uplinks, then the outage
    expect(onNode.after.retransmits).toBeGreaterThan(0); // receipts withheld: resent on receipt timeouts
    expect(onNode.after.counters.retransmits).toBeGreaterThanOrEqual(onNode.after.retransmits);
    expect(onNode.cloud.duplicates).toBeGreaterThan(0);
    expect(onNode.cloud.receiptsHeld).toBeGreaterThan(0);
    expect(onNode.after.outboxDepth).toBeLessThanOrEqual(4);
    const envs = onNode.messages.map((m) => decodeEnvelope(hexToBytes(m.hex)));
    expect(new Set(envs.map((e) => e.epoch))).toEqual(new Set([onNode.after.epoch])); // one epoch: the flash kept it across the reboot
    expect(onNode.after.epoch).toBeGreaterThan(0);
    for (const e of envs) expect(e.settledBelow >= 1 && e.settledBelow <= e.seq).toBe(true);

    // A seq is never reused, across the reboot too: the same seq only ever
    // arrives again as a byte-identical resend from the outbox.
    const bySeq = new Map<number, string>();
    for (const m of onNode.messages) {
      const seq = decodeEnvelope(hexToBytes(m.hex)).seq;
      const prev = bySeq.get(seq);
      if (prev !== undefined) expect(m.hex).toBe(prev);
      bySeq.set(seq, m.hex);
    }
    expect(onNode.after.nextSeq).toBeGreaterThan(onNode.before.nextSeq);
  });

  it("an actuator executes each command id once across a crash, identically on XS and on Node", async () => {
    const onNode = run(actuatorInput) as ActuatorScenarioResult;
    const xs = (await onXs)[1]!.result as ActuatorScenarioResult;
    expect(xs).toEqual(onNode);
    expect(onNode.actuatorValues).toEqual([5, 5, 9, 9]);
    const acks = onNode.messages.filter((m) => m.topic.endsWith("/ack")).map((m) => decodeEnvelope(hexToBytes(m.hex)).commandAck!);
    const summary = acks.map((a) => `${a.commandId}:${a.status}:${a.duplicate ? "dup" : "new"}`);
    expect(summary).toContain(`a1:${AckStatus.ACK_STATUS_OK}:new`);
    expect(summary).toContain(`a1:${AckStatus.ACK_STATUS_OK}:dup`);
    expect(summary).toContain(`a2:${AckStatus.ACK_STATUS_EXPIRED}:new`);
    expect(summary).toContain(`a3:${AckStatus.ACK_STATUS_REJECTED}:new`);
    expect(summary).toContain(`a4:${AckStatus.ACK_STATUS_OK}:dup`); // after the reboot
    expect(onNode.stats.counters.cmdsExecuted).toBe(2); // a1 and a4, once each over both boots
    expect(onNode.stats.counters.badMessages).toBe(1);
  });
});
