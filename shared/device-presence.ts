// Whether a device is connected, as the cloud derives it from the device's
// Hello/Status messages (the wire enum `Presence` in xsfleet.proto: the
// retained "online" and the MQTT will "offline") and from heartbeat timeouts.
// One vocabulary for device state, the management API and the dashboard.
import { Presence } from "./proto/xsfleet.gen";

export const DevicePresence = Object.freeze({
  /** Never heard from, or the source does not know. */
  Unknown: "unknown",
  Online: "online",
  Offline: "offline",
} as const);
export type DevicePresence = (typeof DevicePresence)[keyof typeof DevicePresence];

export const devicePresences: readonly DevicePresence[] = Object.freeze([DevicePresence.Online, DevicePresence.Offline, DevicePresence.Unknown]);

/** The presence a Status message reports; undefined for PRESENCE_UNSPECIFIED or unknown values. */
export function devicePresenceFromWire(p: number): DevicePresence | undefined {
  if (p === Presence.PRESENCE_ONLINE) return DevicePresence.Online;
  if (p === Presence.PRESENCE_OFFLINE) return DevicePresence.Offline;
  return undefined;
}
