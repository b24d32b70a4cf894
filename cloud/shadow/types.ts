// Contracts of the device shadow (docs/shadow.md): per device a desired
// document (written by operators and integrators through the API; later
// rules and gateways) and a reported document (written by the device, or a
// gateway for its child), each a map field → dotted version vector set
// (shared/clock/dvv.ts). Values are JSON, stored as canonical JSON text in
// the DVV set so equal values compare equal everywhere (XS included).
import type { DvvContext, DvvSet } from "../../shared/clock/dvv";
import { configFieldPattern } from "../../shared/device-config";

export const ShadowDoc = Object.freeze({ Desired: "desired", Reported: "reported" } as const);
export type ShadowDoc = (typeof ShadowDoc)[keyof typeof ShadowDoc];
export const shadowDocs: readonly ShadowDoc[] = Object.freeze([ShadowDoc.Desired, ShadowDoc.Reported]);

/** Field names: the device configuration's pattern (shared/device-config.ts; dots allowed for `job.<id>`, `edge.fence`). */
export const shadowFieldPattern = configFieldPattern;

export interface ShadowLimits {
  /** Fields one document may hold (deleted fields keep their context and count). */
  fieldsMax: number;
  /** Canonical JSON of one value. */
  valueBytesMax: number;
  /** Concurrent values a put may leave in one field. */
  siblingsMax: number;
  /** Writers (dot issuers) one document may name: API nodes, the device, gateways. */
  writersMax: number;
  /** Revisions the store keeps per writer key (NATS KV history, ≤ 64). */
  historyPerWriterMax: number;
  /** Compare-and-set retries of one write on a writer's own key before giving up. */
  casRetriesMax: number;
  /** Entries one history request returns at most. */
  historyReplyMax: number;
}

export const defaultShadowLimits: ShadowLimits = Object.freeze({
  fieldsMax: 32,
  valueBytesMax: 1024,
  siblingsMax: 8,
  writersMax: 16,
  historyPerWriterMax: 16,
  casRetriesMax: 8,
  historyReplyMax: 256,
});

/** One document: field → DVV set (values are canonical JSON text). */
export type ShadowFields = Readonly<Record<string, DvvSet>>;

/** put/delete: one field; write: several fields in one stored revision (devices.config.set, the edge scheduler). */
export const ShadowOpKind = Object.freeze({ Put: "put", Delete: "delete", Merge: "merge", Write: "write" } as const);
export type ShadowOpKind = (typeof ShadowOpKind)[keyof typeof ShadowOpKind];

/** What one write did (kept with each stored revision: the history). */
export interface ShadowOp {
  kind: ShadowOpKind;
  /** put/delete: the field; merge: the fields the merge changed. */
  fields: string[];
  /** put: the new write's dot. */
  dot?: { writer: string; counter: number };
  /** put/delete: the context the writer read (what it replaces). */
  context?: DvvContext;
  /** put: the value (JSON). */
  value?: unknown;
  /** write: each field's change (value absent: deleted), the context it replaced and the new dot of a put. */
  changes?: ShadowOpChange[];
  atMs: number;
  /** Who asked (an operator name, "device", a gateway id); informational. */
  actor?: string;
}

export interface ShadowOpChange {
  field: string;
  /** The value written (JSON); absent when the field was deleted. */
  value?: unknown;
  context: DvvContext;
  dot?: { writer: string; counter: number };
}

/** One field of a multi-field write (ShadowStore.write): a value, or `deleted`. `context`: the
 *  context the caller read (what it replaces); absent: the context the store reads for this write. */
export type ShadowChange =
  | { field: string; value: unknown; context?: DvvContext }
  | { field: string; deleted: true; context?: DvvContext };

/** The value under one writer's key `<deviceId>.<doc>.<writer>`: that
 *  writer's replica of the whole document (everything it had read, joined,
 *  plus its own writes) and the operation that produced it. */
export interface StoredShadow {
  v: 1;
  deviceId: string;
  doc: ShadowDoc;
  writer: string;
  fields: Record<string, DvvSet>;
  op: ShadowOp;
}

export interface SiblingView { writer: string; counter: number; value: unknown }

export interface FieldView {
  /** The concurrent values (one when there is no conflict, none when deleted). */
  values: unknown[];
  siblings: SiblingView[];
  /** Pass this back with a put or delete to replace what you read. */
  context: DvvContext;
}

export interface ShadowDocView {
  fields: Record<string, FieldView>;
  /** The writer keys joined for this read. */
  writers: string[];
}

/** What should reach the device: desired fields with one value that the
 *  reported document does not hold, desired fields deleted that the reported
 *  document still holds; conflicted desired fields wait. */
export interface ShadowDelta {
  fields: Record<string, { value: unknown; context: DvvContext }>;
  /** Deleted from the desired document, still reported: the device removes them. */
  deleted: Record<string, { context: DvvContext }>;
  /** Desired fields with siblings: not sent until a writer resolves them. */
  conflicts: string[];
}

export interface ShadowView {
  deviceId: string;
  desired: ShadowDocView;
  reported: ShadowDocView;
  delta: ShadowDelta;
}

export interface ShadowHistoryEntry {
  doc: ShadowDoc;
  writer: string;
  /** KV revision of the writer key (per bucket, increasing). */
  revision: number;
  op: ShadowOp;
}

/** Published on `deviceEventSubject(id, DeviceEvent.Shadow)` after every stored change. */
export interface ShadowEvent {
  deviceId: string;
  event: "shadow";
  doc: ShadowDoc;
  writer: string;
  revision: number;
  op: ShadowOp;
  /** The writer's W3C traceparent, when the write ran inside a trace (the delta push continues it). */
  traceparent?: string;
}

export const ShadowErrorCode = Object.freeze({
  Invalid: "invalid",
  TooLarge: "too_large",
  /** Too many concurrent values: read, then write with the context read. */
  Conflict: "conflict",
  /** The writer's own key kept changing under it (another process with the same writer id?). */
  Contended: "contended",
} as const);
export type ShadowErrorCode = (typeof ShadowErrorCode)[keyof typeof ShadowErrorCode];

export class ShadowError extends Error {
  readonly code: ShadowErrorCode;
  constructor(code: ShadowErrorCode, message: string) {
    super(message);
    this.name = "ShadowError";
    this.code = code;
  }
}
