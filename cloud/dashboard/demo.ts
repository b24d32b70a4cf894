// A dashboard over a synthetic fleet, to look at the page without a running
// stack:  npx tsx cloud/dashboard/demo.ts [--port 8090] [--devices 30]
// The fleet is generated from a seed (printed), readings drift over time,
// devices go offline and come back, and events flow to the live feed.
import { pathToFileURL } from "node:url";
import { MemoryDashboardSource } from "./memory-source";
import { startDashboard } from "./server";
import {
  CloudNodeHealth, DevicePresence, type ClusterSnapshot, type DashboardHandle, type DeviceRow, type FleetSnapshot,
} from "./types";

/** mulberry32: small seeded generator so a demo fleet is reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const roles = ["sensor", "sensor", "sensor", "sensor", "actuator", "gateway", "processing"];
const sites = ["berlin/lab", "berlin/hall-a", "lyon/office", "lyon/roof"];

function reading(channel: string, unit: string, base: number, amp: number, phase: number, tMs: number, r: () => number, step: number) {
  const raw = base + amp * Math.sin(tMs / 600_000 + phase) + (r() - 0.5) * amp * 0.15;
  return { channel, unit, value: Number((Math.round(raw / step) * step).toFixed(2)), timeMs: tMs };
}

export function demoFleet(count: number, nowMs: number, seed: number): FleetSnapshot {
  const r = seeded(seed);
  const devices: DeviceRow[] = [];
  for (let i = 0; i < count; i++) {
    const role = roles[i % roles.length]!;
    const offline = r() < 0.15;
    const never = !offline && r() < 0.04;
    const lastSeenMs = never ? null : offline ? nowMs - Math.floor(60_000 + r() * 3_600_000) : nowMs - Math.floor(r() * 12_000);
    const phase = r() * 6;
    const readings = never || role === "gateway" ? [] : [
      reading("temp", "C", 21.5, 2.5, phase, lastSeenMs!, r, 0.01),
      reading("rh", "%", 45, 8, phase + 1, lastSeenMs!, r, 0.1),
      ...(i % 3 === 0 ? [reading("co2", "ppm", 620, 180, phase + 2, lastSeenMs!, r, 1)] : []),
    ];
    devices.push({
      deviceId: `${role === "gateway" ? "gw" : role === "actuator" ? "act" : role === "processing" ? "proc" : "env"}-${String(i).padStart(3, "0")}`,
      role,
      presence: never ? DevicePresence.Unknown : offline ? DevicePresence.Offline : DevicePresence.Online,
      presenceSinceMs: never ? null : offline ? lastSeenMs! + 30_000 : nowMs - Math.floor(600_000 + r() * 86_400_000),
      lastSeenMs,
      firmware: never ? null : r() < 0.8 ? "1.4.2" : "1.3.9",
      freeHeapBytes: never ? null : Math.floor(38_000 + r() * 60_000),
      rssiDbm: never ? null : -Math.floor(42 + r() * 45),
      location: sites[i % sites.length]!,
      via: role === "sensor" && i % 5 === 0 ? "gw-005" : "",
      readings,
      counters: never ? {} : { "tele.sent": Math.floor(1000 + r() * 90_000), "cmd.executed": Math.floor(r() * 40) },
    });
  }
  return { generatedMs: nowMs, devices, truncated: false, errors: [] };
}

export function demoCluster(nowMs: number, tick: number): ClusterSnapshot {
  const server = (i: number) => ({
    monitorUrl: `http://127.0.0.1:${8222 + i}`, ok: true, error: null, name: `n${i}`, version: "2.9.25", uptime: "3h12m",
    connections: 14 + i * 3, inMsgs: 1_204_000 + tick * 310 + i * 7000, outMsgs: 2_830_000 + tick * 620, inBytes: 0, outBytes: 0,
    memBytes: (48 + i * 5) * 1024 * 1024, cpuPct: 3 + i, routes: 2,
    jetstream: { streams: 7, consumers: 9, messages: 412_000 + tick * 90, bytes: 91 * 1024 * 1024, metaLeader: "n0" },
  });
  const consumer = (name: string, pending: number, ackPending: number) => ({ name, pending, ackPending, redelivered: 0, waiting: 1 });
  const stream = (name: string, messages: number, bytes: number, consumers: ReturnType<typeof consumer>[]) =>
    ({ name, subjects: [], messages, bytes, replicas: 3, leader: "n1", consumers, consumersTruncated: false, ephemeralConsumers: 0 });
  return {
    generatedMs: nowMs,
    servers: [server(0), server(1), server(2)],
    streams: [
      stream("XSF_UP", 284_281 + tick * 60, 72 * 1024 * 1024, [
        ...Array.from({ length: 4 }, (_, p) => consumer(`xsf-ingest-p${p}`, (tick + p) % 5, p % 2)),
        consumer("xsf-ingest-wills", 0, 0), consumer("xsf-commands-acks", 0, 0),
      ]),
      stream("XSF_HIST", 2_912_004 + tick * 300, 140 * 1024 * 1024, []),
      stream("XSF_DLQ", 3, 2048, []),
    ],
    cloudNodes: [
      { nodeId: "cloud-a", roles: ["ingest", "api"], health: CloudNodeHealth.Up, lastSeenMs: nowMs - 800, detail: "" },
      { nodeId: "cloud-b", roles: ["ingest", "commands"], health: CloudNodeHealth.Up, lastSeenMs: nowMs - 1300, detail: "" },
      { nodeId: "cloud-c", roles: ["analytics", "orchestration"], health: CloudNodeHealth.Suspect, lastSeenMs: nowMs - 9000, detail: "phi 9.3" },
    ],
    processes: [],
    traffic: { msgsPerSec: 310 + (tick % 5) * 4, pointsPerSec: 1450 + (tick % 9) * 11, consumerLag: 18 + (tick % 7), deadLetters: 3 },
    errors: [],
  };
}

export async function runDemo(opts: { port: number; devices: number; seed: number; host?: string }): Promise<DashboardHandle & { source: MemoryDashboardSource; tick(): void }> {
  const now = Date.now();
  const source = new MemoryDashboardSource({ fleet: demoFleet(opts.devices, now, opts.seed), cluster: demoCluster(now, 0), history: true });
  const r = seeded(opts.seed ^ 0x5eed);
  // Pre-fill history for every device and channel: 15 minutes at 10 s.
  for (const d of source.fleetSnapshot.devices) {
    for (const c of d.readings) {
      const points = [];
      for (let t = now - 900_000; t <= now; t += 10_000) {
        points.push({ timeMs: t, value: c.value + Math.sin(t / 120_000 + d.deviceId.length) * (c.channel === "co2" ? 40 : 0.8) + (r() - 0.5) * (c.channel === "co2" ? 6 : 0.1) });
      }
      source.historyPoints!.set(`${d.deviceId}/${c.channel}`, points);
    }
  }
  const kinds = ["online", "offline", "command-acked", "command-expired", "detection"];
  let ticks = 0;
  const tick = () => {
    ticks++;
    const t = Date.now();
    source.fleetSnapshot = demoFleet(opts.devices, t, opts.seed);
    source.clusterSnapshot = demoCluster(t, ticks);
    const d = source.fleetSnapshot.devices[Math.floor(r() * source.fleetSnapshot.devices.length)];
    const kind = kinds[Math.floor(r() * kinds.length)]!;
    if (d) {
      const summary = kind === "detection" ? "co2 above 1000 ppm for 60 s" : kind.startsWith("command") ? `command set-interval ${kind.slice(8)}` : `device ${kind}`;
      source.emit({ timeMs: t, kind, deviceId: d.deviceId, summary });
    }
  };
  const handle = await startDashboard({ port: opts.port, host: opts.host, source });
  for (let i = 0; i < 12; i++) tick();
  return { ...handle, source, tick };
}

function flag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} needs a non-negative integer`);
  return n;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const seed = flag(argv, "seed", Date.now() % 100_000);
  const demo = await runDemo({ port: flag(argv, "port", 8090), devices: flag(argv, "devices", 30), seed });
  process.stdout.write(`dashboard (demo fleet, seed ${seed}): ${demo.url}\n`);
  const timer = setInterval(demo.tick, 2000);
  process.once("SIGINT", () => { clearInterval(timer); void demo.stop(); });
}
