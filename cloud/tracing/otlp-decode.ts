// Decoding of OTLP trace export requests (ExportTraceServiceRequest), as
// protobuf with the official definitions (otlp-proto/, copied unchanged from
// github.com/open-telemetry/opentelemetry-proto) or as OTLP/JSON (hex ids,
// lowerCamelCase fields, 64-bit integers as strings or numbers), into one
// flat span model the dashboard keeps and the tests check.
// Bad input is an OtlpDecodeError (the receiver answers 400), never a crash;
// a request holds at most requestSpansMax spans and attributesPerSpanMax
// attributes per span are kept.
import { fileURLToPath } from "node:url";
import path from "node:path";
import protobuf from "protobufjs";

/** Spans in one export request at most (the SDK sends 512 per batch by default). */
export const requestSpansMax = 10_000;
/** Attributes kept per span (resource attributes are not counted). */
export const attributesPerSpanMax = 64;
/** Longest attribute text kept. */
export const attributeTextMax = 512;

export type AttrValue = string | number | boolean;

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer (0 unspecified). */
  kind: number;
  /** Resource service.name and service.instance.id. */
  service: string;
  instance: string;
  /** Epoch ms with sub-ms precision. */
  startMs: number;
  endMs: number;
  attributes: Record<string, AttrValue>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  links: Array<{ traceId: string; spanId: string }>;
}

export class OtlpDecodeError extends Error {
  override readonly name = "OtlpDecodeError";
}

const protoDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "otlp-proto");
const requestTypeName = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest";
let requestType: protobuf.Type | null = null;

/** The official ExportTraceServiceRequest type, loaded once from the .proto files. */
export function exportTraceRequestType(): protobuf.Type {
  if (requestType) return requestType;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(protoDir, target);
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", { keepCase: false });
  requestType = root.lookupType(requestTypeName);
  return requestType;
}

// protobufjs gives Buffers, or an empty array (the prototype default) for an absent field.
const hex = (b: Uint8Array | number[] | undefined): string => (b && b.length > 0 ? Buffer.from(b).toString("hex") : "");

/** Unix nanoseconds (Long, number, bigint or decimal string) → epoch ms. */
function nanosToMs(v: unknown): number {
  if (v === undefined || v === null || v === "") return 0;
  const s = typeof v === "object" ? String(v as object) : String(v);
  if (!/^\d{1,20}$/.test(s)) throw new OtlpDecodeError(`bad time ${JSON.stringify(s).slice(0, 40)}`);
  const n = BigInt(s);
  return Number(n / 1000n) / 1000;
}

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: unknown;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: unknown;
  bytesValue?: unknown;
}
interface KeyValue { key?: string; value?: AnyValue }

// Own properties only: protobufjs keeps field defaults on the prototype, so
// the oneof member that was on the wire is the one set on the object.
const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k) && (o as Record<string, unknown>)[k] !== null;

function attrValue(v: AnyValue | undefined): AttrValue | undefined {
  if (!v || typeof v !== "object") return undefined;
  if (has(v, "stringValue")) return String(v.stringValue).slice(0, attributeTextMax);
  if (has(v, "boolValue")) return Boolean(v.boolValue);
  if (has(v, "intValue")) return Number(String(v.intValue));
  if (has(v, "doubleValue")) return Number(v.doubleValue);
  if (has(v, "arrayValue")) return JSON.stringify((v.arrayValue?.values ?? []).map(attrValue)).slice(0, attributeTextMax);
  return undefined;
}

function attrs(list: KeyValue[] | undefined, max: number): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  let n = 0;
  for (const kv of list ?? []) {
    if (n >= max) break;
    if (typeof kv.key !== "string") continue;
    const v = attrValue(kv.value);
    if (v !== undefined) { out[kv.key] = v; n++; }
  }
  return out;
}

/** The wire shapes after decoding: ids as hex text (JSON) or bytes (protobuf). */
interface WireSpan {
  traceId?: string | Uint8Array; spanId?: string | Uint8Array; parentSpanId?: string | Uint8Array;
  name?: string; kind?: number | string; startTimeUnixNano?: unknown; endTimeUnixNano?: unknown;
  attributes?: KeyValue[]; status?: { code?: number | string; message?: string };
  links?: Array<{ traceId?: string | Uint8Array; spanId?: string | Uint8Array }>;
}
interface WireRequest {
  resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans?: Array<{ spans?: WireSpan[] }> }>;
}

const idText = (v: string | Uint8Array | undefined, bytes: number, what: string): string => {
  const s = typeof v === "string" ? v.toLowerCase() : hex(v);
  if (s !== "" && !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(s)) throw new OtlpDecodeError(`bad ${what} ${JSON.stringify(s).slice(0, 50)}`);
  return s;
};

const spanKinds: Record<string, number> = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 };
const statusCodes: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const enumNum = (v: number | string | undefined, names: Record<string, number>): number => (typeof v === "string" ? (names[v] ?? 0) : (v ?? 0));

function flatten(req: WireRequest): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  if (typeof req !== "object" || req === null) throw new OtlpDecodeError("the body is not an ExportTraceServiceRequest");
  for (const rs of req.resourceSpans ?? []) {
    const res = attrs(rs.resource?.attributes, 256);
    const service = String(res["service.name"] ?? "unknown_service");
    const instance = String(res["service.instance.id"] ?? "");
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        if (out.length >= requestSpansMax) throw new OtlpDecodeError(`more than ${requestSpansMax} spans in one request`);
        const traceId = idText(s.traceId, 16, "traceId");
        const spanId = idText(s.spanId, 8, "spanId");
        if (traceId === "" || spanId === "") throw new OtlpDecodeError("a span without traceId or spanId");
        out.push({
          traceId, spanId, parentSpanId: idText(s.parentSpanId, 8, "parentSpanId"),
          name: String(s.name ?? "").slice(0, attributeTextMax), kind: enumNum(s.kind, spanKinds), service, instance,
          startMs: nanosToMs(s.startTimeUnixNano), endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attrs(s.attributes, attributesPerSpanMax),
          statusCode: enumNum(s.status?.code, statusCodes), statusMessage: String(s.status?.message ?? "").slice(0, attributeTextMax),
          links: (s.links ?? []).slice(0, 32).map((l) => ({ traceId: idText(l.traceId, 16, "link traceId"), spanId: idText(l.spanId, 8, "link spanId") })),
        });
      }
    }
  }
  return out;
}

/** An OTLP/HTTP protobuf body (application/x-protobuf). */
export function decodeOtlpProtobuf(body: Uint8Array): DecodedSpan[] {
  let msg: protobuf.Message;
  try {
    msg = exportTraceRequestType().decode(body);
  } catch (e) {
    throw new OtlpDecodeError(`not an OTLP protobuf ExportTraceServiceRequest: ${e instanceof Error ? e.message : String(e)}`);
  }
  return flatten(msg as unknown as WireRequest);
}

/** An OTLP/HTTP JSON body (application/json). */
export function decodeOtlpJson(text: string): DecodedSpan[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new OtlpDecodeError(`not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return flatten(v as WireRequest);
}
