// A command's trace context comes back in the device's ack (simulated time,
// in-memory broker): same trace id and flags, a new span id, the command's
// tracestate and baggage; a command without a valid traceparent gets an ack
// that starts a fresh trace and carries none of it. The cloud side's
// commands.ack span is parented by this traceparent (test/cloud/tracing).
import { describe, expect, it } from "vitest";
import { DeviceRuntime } from "../../firmware/device/runtime";
import { isTraceparent } from "../../firmware/device/trace-context";
import { MemoryStorage } from "../../firmware/sim/memory-storage";
import { createSimPlatform, createSimWorld, type SimWorld } from "../../firmware/sim/sim-platform";
import { createCommand, createEnvelope, decodeEnvelope, encodeEnvelope, schemaVersion, type Envelope } from "../../shared/proto/xsfleet.gen";
import { Downlink, deviceTopic } from "../../shared/topics";

const id = "dev-trace";

function actuator(): SimWorld {
  const world = createSimWorld();
  const rt = new DeviceRuntime(createSimPlatform(world, { seed: 9, storage: new MemoryStorage() }), {
    deviceId: id, role: "actuator", brokerUrls: ["mqtt://sim:1883"], heartbeatIntervalMs: 5_000, sampleIntervalMs: 500, batchPointsMax: 10, batchAgeMaxMs: 60_000, seqBlock: 8,
  }, () => {});
  rt.start();
  world.clock.advance(50);
  return world;
}

function sendCommand(world: SimWorld, commandId: string, trace: Partial<Envelope>): Envelope {
  world.broker.publish(deviceTopic(id, Downlink.Command), encodeEnvelope(createEnvelope({
    schemaVersion, deviceId: id, seq: 1, ...trace, command: createCommand({ commandId, name: "set", argsJson: "{\"value\":1}" }),
  })));
  world.clock.advance(20);
  const acks = world.broker.log.filter((m) => m.from === id && m.topic.endsWith("/ack")).map((m) => decodeEnvelope(m.payload));
  return acks.find((a) => a.commandAck?.commandId === commandId)!;
}

describe("the ack carries the command's trace context", () => {
  it("keeps trace id, flags, tracestate and baggage; makes a new span id", () => {
    const world = actuator();
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const ack = sendCommand(world, "t1", { traceparent, tracestate: "xsf=1", baggage: "site=lab,zone=a" });
    expect(isTraceparent(ack.traceparent)).toBe(true);
    expect(ack.traceparent.slice(0, 36)).toBe(traceparent.slice(0, 36));
    expect(ack.traceparent.slice(52)).toBe("-01");
    expect(ack.traceparent.slice(36, 52)).not.toBe("00f067aa0ba902b7");
    expect(ack.tracestate).toBe("xsf=1");
    expect(ack.baggage).toBe("site=lab,zone=a");
  });

  it("starts a fresh trace, without the command's tracestate, when the traceparent is invalid", () => {
    const world = actuator();
    const ack = sendCommand(world, "t2", { traceparent: "00-zz-bad", tracestate: "xsf=1", baggage: "site=lab" });
    expect(isTraceparent(ack.traceparent)).toBe(true);
    expect(ack.tracestate).toBe("");
    expect(ack.baggage).toBe("");
  });
});
