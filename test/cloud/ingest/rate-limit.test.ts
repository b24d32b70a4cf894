// Per-device token bucket (cloud/ingest/rate-limit.ts): burst, refill by
// JetStream time, bounded memory, and the settings' backfill rule.
import { describe, expect, it } from "vitest";
import { DeviceRateLimiter } from "../../../cloud/ingest/rate-limit";
import { firmwareOutboxMessagesMax, parseIngestConfig } from "../../../cloud/ingest/settings";
import { outboxDefaults } from "../../../firmware/device/outbox";

describe("DeviceRateLimiter", () => {
  it("lets a burst through, then the refill rate, per device", () => {
    const rl = new DeviceRateLimiter({ ratePerSec: 10, burst: 5, devicesMax: 10 });
    const took = Array.from({ length: 8 }, () => rl.take("a", 1000));
    expect(took).toEqual([true, true, true, true, true, false, false, false]);
    expect(rl.take("b", 1000)).toBe(true); // another device is not slowed
    expect(rl.take("a", 1099)).toBe(false); // 0.99 token
    expect(rl.take("a", 1100)).toBe(true);
    expect(rl.take("a", 1000)).toBe(false); // time going back refills nothing
    expect(rl.take("a", 100_000)).toBe(true);
    expect(rl.limited).toBe(5);
  });

  it("tracks at most devicesMax devices (least recently used forgotten, starting full again)", () => {
    const rl = new DeviceRateLimiter({ ratePerSec: 1, burst: 1, devicesMax: 2 });
    expect(rl.take("a", 0)).toBe(true);
    expect(rl.take("b", 0)).toBe(true);
    expect(rl.take("a", 0)).toBe(false);
    expect(rl.take("c", 0)).toBe(true); // evicts b (a was used more recently)
    expect(rl.size).toBe(2);
    expect(rl.take("a", 0)).toBe(false);
    expect(rl.take("b", 0)).toBe(true);
  });

  it("refuses bad options; the burst must pass a full firmware outbox", () => {
    expect(() => new DeviceRateLimiter({ ratePerSec: 0, burst: 1, devicesMax: 1 })).toThrow(/ratePerSec/);
    expect(firmwareOutboxMessagesMax).toBe(outboxDefaults.messagesMax);
    expect(parseIngestConfig({}).deviceBurst).toBeGreaterThanOrEqual(outboxDefaults.messagesMax);
    expect(() => parseIngestConfig({ deviceBurst: 10 })).toThrow(/deviceBurst \(10\) must be >= the firmware outbox capacity/);
  });
});
