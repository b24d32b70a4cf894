// The uplinks that say a device is (back) online: a Hello, or a Status with
// presence online. Whatever a device must receive again after it
// reconnects (shadow deltas, commands it did not ack) is re-sent on them.
import { Presence, decodeEnvelope } from "../../shared/proto/xsfleet.gen";

/** True for a Hello, or a Status saying the device came online. */
export function isOnlineSignal(data: Uint8Array): boolean {
  try {
    const env = decodeEnvelope(data);
    return env.hello !== undefined || env.status?.presence === Presence.PRESENCE_ONLINE;
  } catch {
    return false;
  }
}
