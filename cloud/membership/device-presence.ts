// Detector-based suspicion of devices. The ingest role already owns device
// presence (online/offline events on xsfleet.v1.events.<device>.<event>,
// from Hello/Status/heartbeat timeout, stored in the device state bucket),
// so this tracker publishes no events: it feeds the arrival times of
// xsfleet.v1.dev.*.hb to a phi-accrual (or timeout) detector and answers
// "how suspicious is this device now, and since when is it offline by the
// detector" through the operator API — an early warning that adapts to each
// device's real heartbeat jitter instead of one fixed timeout.

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { monotonicNowMs } from "../base";
import { HeartbeatManager, DetectorKind, Liveness, createDetector, type DetectorConfig, type FailureDetector } from "../health";
import { parseDeviceAddress, Uplink } from "../../shared/topics";
import { allDevicesSubject } from "../subjects";
import { SUSPICION_CAP } from "./driver";

export interface DevicePresenceOptions {
  nc: NatsConnection;
  /** Interval devices are configured to heartbeat at. */
  heartbeatIntervalMs?: number;
  detector?: DetectorConfig;
  /** Grace in `suspect` before the detector calls a device offline. */
  downAfterMs?: number;
  devicesMax?: number;
  tickIntervalMs?: number;
  nowMs?: () => number;
}

export interface DeviceSuspicion {
  deviceId: string;
  /** Detector presence: up / suspect / down ("offline by the detector"). */
  presence: Liveness;
  sinceMs: number;
  /** Present when presence is down: the time the detector declared it. */
  offlineSinceMs: number | undefined;
  suspicion: number;
  threshold: number;
  lastHeartbeatMs: number | undefined;
}

export class DevicePresenceTracker {
  readonly #nc: NatsConnection;
  readonly #now: () => number;
  readonly #manager: HeartbeatManager;
  readonly #detector: FailureDetector;
  readonly #devicesMax: number;
  readonly #tickIntervalMs: number;
  #sub: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  rejected = 0;

  constructor(opts: DevicePresenceOptions) {
    this.#nc = opts.nc;
    this.#now = opts.nowMs ?? monotonicNowMs;
    this.#devicesMax = opts.devicesMax ?? 100_000;
    const intervalMs = opts.heartbeatIntervalMs ?? 10_000;
    this.#tickIntervalMs = opts.tickIntervalMs ?? Math.max(50, Math.floor(intervalMs / 4));
    const detector: DetectorConfig = opts.detector ?? {
      kind: DetectorKind.PhiAccrual, threshold: 8, maxSampleSize: 100, minStdDeviationMs: Math.max(50, Math.floor(intervalMs / 10)),
      acceptableHeartbeatPauseMs: intervalMs, firstHeartbeatEstimateMs: intervalMs, nodesMax: this.#devicesMax,
    };
    this.#detector = createDetector({ ...detector, nodesMax: this.#devicesMax });
    this.#manager = new HeartbeatManager({
      heartbeatIntervalMs: intervalMs, nodesMax: this.#devicesMax, eventsMax: this.#devicesMax,
      classes: { device: { detector, downAfterMs: opts.downAfterMs ?? intervalMs, firstHeartbeatTimeoutMs: 10 * intervalMs } },
    });
  }

  start(): void {
    this.#sub = this.#nc.subscribe(allDevicesSubject(Uplink.Heartbeat), {
      callback: (err, msg) => {
        if (err) return;
        const addr = parseDeviceAddress(msg.subject);
        if (addr) this.heartbeat(addr.deviceId, this.#now());
      },
    });
    this.#timer = setInterval(() => this.tick(this.#now()), this.#tickIntervalMs);
  }

  stop(): void {
    this.#sub?.unsubscribe();
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Records one heartbeat arrival (also usable without NATS, e.g. in tests). */
  heartbeat(deviceId: string, nowMs: number): void {
    if (!this.#manager.presence(deviceId) && !this.#manager.register(deviceId, "device", nowMs).ok) {
      this.rejected++;
      return;
    }
    this.#manager.heartbeat(deviceId, nowMs);
    this.#detector.heartbeat(deviceId, nowMs);
  }

  tick(nowMs: number): void {
    this.#manager.tick(nowMs);
    this.#manager.takeEvents();
  }

  get size(): number {
    return this.#manager.size;
  }

  get(deviceId: string, nowMs = this.#now()): DeviceSuspicion | undefined {
    const p = this.#manager.presence(deviceId);
    if (!p) return undefined;
    const s = this.#detector.suspicion(deviceId, nowMs);
    return {
      deviceId, presence: p.presence, sinceMs: p.sinceMs, offlineSinceMs: p.presence === Liveness.Down ? p.sinceMs : undefined,
      suspicion: Number.isFinite(s) ? Math.round(s * 1000) / 1000 : SUSPICION_CAP, threshold: this.#detector.threshold,
      lastHeartbeatMs: this.#detector.lastHeartbeatMs(deviceId),
    };
  }
}
