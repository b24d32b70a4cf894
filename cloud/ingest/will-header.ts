// How a relayed MQTT will is marked (will-relay.ts writes it, the pull loop
// reads it): the original will's XSF_UP seq in a header, and the relay's
// Nats-Msg-Id. Pure; no I/O.
import { partitionRoot, Uplink } from "../../shared/topics";

export const WillRelayHeader = Object.freeze({
  /** XSF_UP seq of the will as the broker stored it. */
  OrigSeq: "Xsf-Orig-Seq",
} as const);

type Headers = { get(k: string): string };

/** Nats-Msg-Id of a relayed will. */
export function relayedWillMsgId(origSeq: number): string {
  return `will-${origSeq}`;
}

/**
 * The seq a partition delivery stands for: the original will's seq when it
 * is a relayed will (a partitioned status with a valid `Xsf-Orig-Seq`,
 * necessarily older than the relay's own seq); undefined otherwise. Devices
 * cannot set NATS headers (MQTT 3.1.1 has none).
 */
export function relayedWillSeq(subject: string, headers: Headers | undefined | (() => Headers | undefined), ownSeq: number): number | undefined {
  if (!subject.startsWith(`${partitionRoot}.`) || !subject.endsWith(`.${Uplink.Status}`)) return undefined;
  // Lazily: every MQTT message carries a header (Nmqtt-Pub), parsing it for every telemetry message costs.
  const hdrs = typeof headers === "function" ? headers() : headers;
  if (!hdrs) return undefined;
  const v = hdrs.get(WillRelayHeader.OrigSeq);
  if (!/^[1-9][0-9]{0,15}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n < ownSeq ? n : undefined;
}
