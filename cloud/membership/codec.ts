// Wire encoding of membership messages: JSON, with a strict bounded decode
// that never throws (a peer running other code, or garbage on the subject,
// is counted and dropped, never crashes the driver). Checked at encode too:
// we never send what we would refuse to receive.

import { MemberState, MessageType, type MembershipUpdate, type SwimMessage } from "../health/swim";
import { nodeIdPattern } from "../base";
import type { ClusterHeartbeat, NodeResources } from "./types";

export interface CodecLimits {
  /** Encoded message size. */
  readonly messageBytesMax: number;
  /** Updates piggybacked on one SWIM message, and members in a push-pull. */
  readonly updatesMax: number;
  /** Roles, replacing and leases entries in a heartbeat. */
  readonly rolesMax: number;
  /** Length of a role or lease name. */
  readonly nameLengthMax: number;
}

export const DEFAULT_CODEC_LIMITS: CodecLimits = Object.freeze({
  messageBytesMax: 256 * 1024,
  updatesMax: 4097,
  rolesMax: 64,
  nameLengthMax: 128,
});

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

class Bad extends Error {}

function bad(msg: string): never {
  throw new Bad(msg);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(`${path}: expected an object`);
  return v as Record<string, unknown>;
}
function int(v: unknown, path: string, min = 0): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) bad(`${path}: expected an integer >= ${min}`);
  return v as number;
}
function num(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) bad(`${path}: expected a finite number >= 0`);
  return v as number;
}
function nodeId(v: unknown, path: string): string {
  if (typeof v !== "string" || !nodeIdPattern.test(v)) bad(`${path}: expected a node id`);
  return v as string;
}
function names(v: unknown, path: string, limits: CodecLimits): string[] {
  if (!Array.isArray(v) || v.length > limits.rolesMax) bad(`${path}: expected an array of at most ${limits.rolesMax} names`);
  return (v as unknown[]).map((x, i) => {
    if (typeof x !== "string" || x.length === 0 || x.length > limits.nameLengthMax || !/^[\x21-\x7e]+$/.test(x)) bad(`${path}[${i}]: bad name`);
    return x as string;
  });
}

function parse(bytes: Uint8Array, limits: CodecLimits): unknown {
  if (bytes.byteLength > limits.messageBytesMax) bad(`message of ${bytes.byteLength} bytes exceeds ${limits.messageBytesMax}`);
  try {
    return JSON.parse(dec.decode(bytes));
  } catch {
    return bad("not UTF-8 JSON");
  }
}

function guard<T>(f: () => T): Decoded<T> {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, error: err.message };
    throw err;
  }
}

function encodeChecked<T>(value: T, decode: (b: Uint8Array) => Decoded<T>): Uint8Array {
  const bytes = enc.encode(JSON.stringify(value));
  const back = decode(bytes);
  if (!back.ok) throw new Error(`membership codec: refusing to send what peers would reject: ${back.error}`);
  return bytes;
}

// ---- heartbeats ------------------------------------------------------------

function resources(v: unknown, path: string): NodeResources {
  const o = obj(v, path);
  return {
    freeMemoryBytes: int(o.freeMemoryBytes, `${path}.freeMemoryBytes`),
    totalMemoryBytes: int(o.totalMemoryBytes, `${path}.totalMemoryBytes`),
    cpuLoad1: num(o.cpuLoad1, `${path}.cpuLoad1`),
    cpus: int(o.cpus, `${path}.cpus`, 1),
  };
}

export function decodeHeartbeat(bytes: Uint8Array, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Decoded<ClusterHeartbeat> {
  return guard(() => {
    const o = obj(parse(bytes, limits), "heartbeat");
    if (o.v !== 1) bad(`heartbeat.v: unsupported version ${String(o.v)}`);
    return {
      v: 1,
      nodeId: nodeId(o.nodeId, "heartbeat.nodeId"),
      startedAtMs: int(o.startedAtMs, "heartbeat.startedAtMs"),
      seq: int(o.seq, "heartbeat.seq"),
      sentAtMs: int(o.sentAtMs, "heartbeat.sentAtMs"),
      roles: names(o.roles, "heartbeat.roles", limits),
      replacing: names(o.replacing, "heartbeat.replacing", limits),
      leases: names(o.leases, "heartbeat.leases", limits),
      resources: resources(o.resources, "heartbeat.resources"),
    };
  });
}

export function encodeHeartbeat(hb: ClusterHeartbeat, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Uint8Array {
  return encodeChecked(hb, (b) => decodeHeartbeat(b, limits));
}

// ---- SWIM --------------------------------------------------------------------

const UPDATE_STATES: readonly string[] = [MemberState.Alive, MemberState.Suspect, MemberState.Dead];
const MESSAGE_TYPES: readonly string[] = Object.values(MessageType);

function update(v: unknown, path: string): MembershipUpdate {
  const o = obj(v, path);
  if (typeof o.state !== "string" || !UPDATE_STATES.includes(o.state)) bad(`${path}.state: bad member state`);
  return {
    state: o.state as MembershipUpdate["state"],
    node: nodeId(o.node, `${path}.node`),
    incarnation: int(o.incarnation, `${path}.incarnation`),
    from: nodeId(o.from, `${path}.from`),
  };
}

function updates(v: unknown, path: string, limits: CodecLimits): MembershipUpdate[] {
  if (!Array.isArray(v) || v.length > limits.updatesMax) bad(`${path}: expected at most ${limits.updatesMax} updates`);
  return (v as unknown[]).map((u, i) => update(u, `${path}[${i}]`));
}

export function decodeSwim(bytes: Uint8Array, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Decoded<SwimMessage> {
  return guard(() => {
    const o = obj(parse(bytes, limits), "swim");
    if (typeof o.type !== "string" || !MESSAGE_TYPES.includes(o.type)) bad("swim.type: unknown message type");
    const header = { from: nodeId(o.from, "swim.from"), to: nodeId(o.to, "swim.to"), updates: updates(o.updates, "swim.updates", limits) };
    switch (o.type) {
      case MessageType.Ping:
      case MessageType.Ack:
      case MessageType.Nack:
        return { ...header, type: o.type, seqNo: int(o.seqNo, "swim.seqNo") } as SwimMessage;
      case MessageType.PingReq:
        return { ...header, type: MessageType.PingReq, seqNo: int(o.seqNo, "swim.seqNo"), target: nodeId(o.target, "swim.target") };
      case MessageType.Gossip:
        return { ...header, type: MessageType.Gossip };
      default: {
        if (typeof o.reply !== "boolean") bad("swim.reply: expected a boolean");
        return { ...header, type: MessageType.PushPull, members: updates(o.members, "swim.members", limits), reply: o.reply as boolean };
      }
    }
  });
}

export function encodeSwim(message: SwimMessage, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Uint8Array {
  return encodeChecked(message, (b) => decodeSwim(b, limits));
}
