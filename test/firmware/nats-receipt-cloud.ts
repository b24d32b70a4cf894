// For tests against a real nats-server: the test plays the cloud for one
// device. It collects the device's uplinks (decoded, with arrival counts per
// seq) from the NATS subjects the MQTT bridge maps them to, and answers with
// Receipts on the device's rcpt subject — for every message it sees
// (`auto`) or only when the test says so.
import type { NatsConnection } from "@nats-io/transport-node";
import { createEnvelope, createReceipt, createSeqRange, decodeEnvelope, encodeEnvelope, schemaVersion, type Envelope } from "../../shared/proto/xsfleet.gen";
import { Downlink, Uplink, deviceSubject, parseDeviceAddress } from "../../shared/topics";

export interface SeenUplink {
  kind: string;
  env: Envelope;
}

export interface NatsReceiptCloud {
  /** Every uplink in arrival order (resends included). */
  readonly seen: SeenUplink[];
  /** How often `seq` arrived. */
  count(seq: number): number;
  /** Receipt every uplink as it arrives (true) or only on `receipt` calls. */
  setAuto(on: boolean): void;
  receipt(epoch: number, confirmed: ReadonlyArray<readonly [number, number]>, rejected?: ReadonlyArray<readonly [number, number]>): void;
  close(): void;
}

const uplinkKinds: readonly string[] = Object.values(Uplink);

export async function startNatsReceiptCloud(nc: NatsConnection, deviceId: string, opts: { auto: boolean }): Promise<NatsReceiptCloud> {
  const seen: SeenUplink[] = [];
  const counts = new Map<number, number>();
  let auto = opts.auto;
  const sub = nc.subscribe(`xsfleet.v1.dev.${deviceId}.*`);
  const receipt = (epoch: number, confirmed: ReadonlyArray<readonly [number, number]>, rejected: ReadonlyArray<readonly [number, number]> = []): void => {
    const r = createReceipt({
      epoch,
      confirmed: confirmed.map(([first, last]) => createSeqRange({ first, last })),
      rejected: rejected.map(([first, last]) => createSeqRange({ first, last })),
    });
    nc.publish(deviceSubject(deviceId, Downlink.Receipt), encodeEnvelope(createEnvelope({ schemaVersion, deviceId, seq: 1, receipt: r })));
  };
  void (async () => {
    for await (const m of sub) {
      const kind = parseDeviceAddress(m.subject)?.kind;
      if (kind === undefined || uplinkKinds.indexOf(kind) < 0) continue;
      const env = decodeEnvelope(m.data);
      seen.push({ kind, env });
      counts.set(env.seq, (counts.get(env.seq) ?? 0) + 1);
      if (auto) receipt(env.epoch, [[env.seq, env.seq]]);
    }
  })();
  await nc.flush();
  return {
    seen,
    count: (seq) => counts.get(seq) ?? 0,
    setAuto: (on) => { auto = on; },
    receipt,
    close: () => sub.unsubscribe(),
  };
}
