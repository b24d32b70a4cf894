// Wire helpers shared by the submitter and the worker: the Command envelope
// sent to a device, and the JSON events published on state transitions.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Tracer } from "@opentelemetry/api";
import { createCommand, createEnvelope, encodeEnvelope, schemaVersion } from "../../shared/proto/xsfleet.gen";
import { Downlink } from "../../shared/topics";
import { DeviceEvent, deviceEventSubject, deviceSubject } from "../subjects";
import { downlinkTraceparent } from "./spans";
import { outcomeOf, type CommandEvent, type CommandRecord } from "./types";

export function commandEnvelope(r: CommandRecord, nowMs: number, tracer: Tracer | null = null): Uint8Array {
  return encodeEnvelope(createEnvelope({
    schemaVersion,
    deviceId: r.deviceId,
    seq: r.attempt,
    deviceTimeMs: nowMs,
    traceparent: downlinkTraceparent(tracer, r),
    command: createCommand({
      commandId: r.commandId, name: r.name, argsJson: r.argsJson,
      issuedMs: r.issuedMs, deadlineMs: r.deadlineMs, attempt: r.attempt,
    }),
  }));
}

/** Publishes one attempt at QoS 0 (through nats-server's MQTT bridge to the device's cmd topic). */
export function sendCommand(nc: NatsConnection, r: CommandRecord, nowMs: number, tracer: Tracer | null = null): void {
  nc.publish(deviceSubject(r.deviceId, Downlink.Command), commandEnvelope(r, nowMs, tracer));
}

export function publishCommandEvent(nc: NatsConnection, r: CommandRecord, nodeId: string): CommandEvent {
  const event = r.state === "acked" ? DeviceEvent.CommandAcked : DeviceEvent.CommandExpired;
  const payload: CommandEvent = { event, nodeId, ...outcomeOf(r) };
  nc.publish(deviceEventSubject(r.deviceId, event), JSON.stringify(payload));
  return payload;
}
