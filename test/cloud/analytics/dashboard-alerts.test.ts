// The dashboard's live feed shows alert events (cloud/dashboard nats-source):
// an AlertEvent becomes a dashboard event `alert-<state>` about its key's
// device; malformed or oversized payloads are dropped, never thrown.
import { describe, expect, it } from "vitest";
import { alertEventFromMessage } from "../../../cloud/dashboard";

const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));

describe("dashboard alert events", () => {
  it("maps an alert event to a feed event and refuses what is not one", () => {
    const ev = { id: "humid:sim-01:2:raised", ruleId: "humid", key: "sim-01", episode: 2, state: "raised", t: 5, reason: "humidity above 45", value: 46 };
    const got = alertEventFromMessage(enc(ev), 1_000, 4096);
    expect(got).toEqual({ id: ev.id, event: { timeMs: 1_000, kind: "alert-raised", deviceId: "sim-01", summary: "alert humid on sim-01 (episode 2) raised: humidity above 45", detail: ev } });
    // A group key that is not a device id: the event is about no device.
    expect(alertEventFromMessage(enc({ ...ev, key: "site a" }), 1, 4096)?.event.deviceId).toBe("");
    expect(alertEventFromMessage(enc({ ...ev, id: 3 }), 1, 4096)).toBeNull();
    expect(alertEventFromMessage(new TextEncoder().encode("{"), 1, 4096)).toBeNull();
    expect(alertEventFromMessage(enc(ev), 1, 10)).toBeNull();
  });
});
