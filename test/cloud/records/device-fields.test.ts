// Every field that travels from a device into a header, JSON, KV or a subject
// is validated when decoding (cloud/records/device-message.ts): a bad one is
// a dead-letter reason, never a thrown exception.
import { describe, expect, it } from "vitest";
import { decodeCommandAck, decodeDeviceMessage, DlqReason } from "../../../cloud/records";
import { textFieldProblem } from "../../../cloud/records/device-message";
import { defaultIngestConfig } from "../../../cloud/ingest/settings";
import { createCommandAck, createEnvelope, encodeEnvelope, type Envelope } from "../../../shared/proto/xsfleet.gen";
import { helloEnvelope, statusEnvelope, telemetryEnvelope } from "../ingest/helpers";

const id = "dev-fields";
const decode = (kind: string, env: Envelope) => decodeDeviceMessage(`xsfleet.v1.dev.${id}.${kind}`, encodeEnvelope(env), defaultIngestConfig);

describe("device message fields", () => {
  it("normalizes a valid trace context to version 00 and refuses a bad one with its seq", () => {
    const ok = decode("tele", { ...telemetryEnvelope(id, 3), traceparent: "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-more" });
    expect(ok.ok && ok.env.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    for (const tp of ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nX: 1", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "junk"]) {
      const bad = decode("tele", { ...telemetryEnvelope(id, 4), epoch: 9, traceparent: tp });
      expect(bad).toMatchObject({ ok: false, reason: DlqReason.BadField, seqInfo: { kind: "tele", epoch: 9, seq: 4 } });
    }
  });

  it("bounds text fields and refuses control characters", () => {
    const hello = helloEnvelope(id, 1);
    expect(decode("hello", hello).ok).toBe(true);
    const cases: Array<(e: Envelope) => void> = [
      (e) => { e.hello!.firmwareVersion = "1.0\n"; },
      (e) => { e.hello!.firmwareVersion = "v".repeat(129); },
      (e) => { e.hello!.capabilities = ["ok", "bad\u0000"]; },
      (e) => { e.hello!.capabilities = Array.from({ length: 33 }, (_, i) => `c${i}`); },
      (e) => { e.hello!.location = { site: "a\u2028b", zone: "", latitude: 0, longitude: 0 }; },
      (e) => { e.tracestate = "x".repeat(513); },
      (e) => { e.baggage = "k=v\r\n"; },
      (e) => { e.via = "not a device id"; },
      (e) => { e.hello!.channels = [{ name: "t", unit: "\u0085", resolution: 1 }]; },
    ];
    for (const breakIt of cases) {
      const e = helloEnvelope(id, 1);
      breakIt(e);
      expect(decode("hello", e)).toMatchObject({ ok: false, reason: DlqReason.BadField });
    }
    const st = statusEnvelope(id, 2, false);
    st.status!.reason = "gone\r\nInjected: header";
    expect(decode("status", st)).toMatchObject({ ok: false, reason: DlqReason.BadField });
  });

  it("refuses settled_below above the message's own seq", () => {
    expect(decode("tele", { ...telemetryEnvelope(id, 5), settledBelow: 6 })).toMatchObject({ ok: false, reason: DlqReason.BadSeq, seqInfo: { seq: 5 } });
    expect(decode("tele", { ...telemetryEnvelope(id, 5), settledBelow: 5 }).ok).toBe(true);
  });

  it("textFieldProblem: unicode is fine, lone surrogates and C1 controls are not", () => {
    expect(textFieldProblem("Zürich 東京 🌡")).toBeNull();
    expect(textFieldProblem("\ud800x")).toMatch(/surrogate/);
    expect(textFieldProblem("\u009b")).toMatch(/control/);
  });

  it("command acks: the id is a key token, the message bounded and clean, the result JSON", () => {
    const ack = (a: Parameters<typeof createCommandAck>[0]) => decodeCommandAck(`xsfleet.v1.dev.${id}.ack`, encodeEnvelope(createEnvelope({ schemaVersion: 1, deviceId: id, seq: 3, commandAck: createCommandAck(a) })), { messageBytesMax: 65536 });
    expect(ack({ commandId: "c-1", resultJson: "{\"ok\":true}" }).ok).toBe(true);
    expect(ack({ commandId: "c.1" })).toMatchObject({ ok: false, reason: DlqReason.BadField });
    expect(ack({ commandId: "c-1", message: "done\r\nX: y" })).toMatchObject({ ok: false, reason: DlqReason.BadField });
    expect(ack({ commandId: "c-1", resultJson: "{not json" })).toMatchObject({ ok: false, reason: DlqReason.BadField });
    expect(decodeCommandAck(`xsfleet.v1.dev.${id}.tele`, new Uint8Array(0), { messageBytesMax: 10 })).toMatchObject({ ok: false, reason: DlqReason.BadSubject });
  });
});
