// Edge node roles: the one vocabulary for firmware options, the control-plane
// registry and the dashboard, and its mapping to the wire enum `Role`
// (xsfleet.proto), which Hello carries.
import { Role } from "./proto/xsfleet.gen";

export const DeviceRole = Object.freeze({
  Sensor: "sensor",
  Actuator: "actuator",
  Gateway: "gateway",
  Processing: "processing",
} as const);
export type DeviceRole = (typeof DeviceRole)[keyof typeof DeviceRole];

export const deviceRoles: readonly DeviceRole[] = Object.freeze([DeviceRole.Sensor, DeviceRole.Actuator, DeviceRole.Gateway, DeviceRole.Processing]);

export function isDeviceRole(v: unknown): v is DeviceRole {
  return typeof v === "string" && deviceRoles.indexOf(v as DeviceRole) >= 0;
}

const wireOfRole = Object.freeze({
  sensor: Role.ROLE_SENSOR,
  actuator: Role.ROLE_ACTUATOR,
  gateway: Role.ROLE_GATEWAY,
  processing: Role.ROLE_PROCESSING,
} as const);

export function deviceRoleToWire(role: DeviceRole): Role {
  return wireOfRole[role];
}

/** The role a Hello announces; undefined for ROLE_UNSPECIFIED or a value this build does not know. */
export function deviceRoleFromWire(role: number): DeviceRole | undefined {
  for (const r of deviceRoles) if (wireOfRole[r] === role) return r;
  return undefined;
}
