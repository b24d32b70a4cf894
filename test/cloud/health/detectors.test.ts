import { describe, expect, it } from "vitest";
import { createDetector, describeDetector } from "../../../cloud/health/detectors";
import { AKKA_CLUSTER_DEFAULTS, PhiAccrualDetector } from "../../../cloud/health/phi-accrual";
import { TimeoutDetector } from "../../../cloud/health/timeout-detector";
import { DetectorKind } from "../../../cloud/health/types";
import { runDetectorConformance } from "./detector.case";

runDetectorConformance({
  name: "timeout 3 s",
  create: (nodesMax) => new TimeoutDetector({ kind: DetectorKind.Timeout, timeoutMs: 3000, nodesMax }),
  mustSuspectAfterMs: 3000,
});

runDetectorConformance({
  name: "phi-accrual, Akka cluster defaults",
  create: (nodesMax) => new PhiAccrualDetector({ ...AKKA_CLUSTER_DEFAULTS, nodesMax }),
  mustSuspectAfterMs: 5000,
});

runDetectorConformance({
  name: "phi-accrual, no acceptable pause, threshold 10",
  create: (nodesMax) =>
    createDetector({ ...AKKA_CLUSTER_DEFAULTS, threshold: 10, acceptableHeartbeatPauseMs: 0, nodesMax }),
  mustSuspectAfterMs: 2500,
});

describe("timeout detector", () => {
  const make = (): TimeoutDetector => new TimeoutDetector({ kind: DetectorKind.Timeout, timeoutMs: 2000, nodesMax: 8 });

  it("flips exactly at timeoutMs after the last heartbeat", () => {
    const fd = make();
    fd.heartbeat("x", 10_000);
    expect(fd.isAvailable("x", 11_999)).toBe(true);
    expect(fd.isAvailable("x", 12_000)).toBe(false);
    expect(fd.suspicion("x", 11_000)).toBeCloseTo(0.5, 12);
  });

  it("validates its configuration", () => {
    expect(() => new TimeoutDetector({ kind: DetectorKind.Timeout, timeoutMs: 0, nodesMax: 1 })).toThrow(/timeoutMs/);
    expect(() => new TimeoutDetector({ kind: DetectorKind.Timeout, timeoutMs: 10, nodesMax: 0 })).toThrow(/nodesMax/);
    expect(() => make().heartbeat("x", Number.NaN)).toThrow(/integer/);
  });
});

describe("createDetector", () => {
  it("selects the implementation from the config kind", () => {
    expect(createDetector({ kind: DetectorKind.Timeout, timeoutMs: 5, nodesMax: 1 }).kind).toBe("timeout");
    expect(createDetector(AKKA_CLUSTER_DEFAULTS).kind).toBe("phi-accrual");
    expect(describeDetector(AKKA_CLUSTER_DEFAULTS)).toMatch(/phi>=8 window=1000 minStd=100ms pause=3000ms/);
  });

  it("rejects an unknown kind", () => {
    expect(() => createDetector({ kind: "magic" } as never)).toThrow(/unknown detector kind/);
  });
});
