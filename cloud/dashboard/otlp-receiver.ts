// OTLP/HTTP trace receiver of the dashboard: `POST /v1/traces` with an
// ExportTraceServiceRequest as protobuf (application/x-protobuf) or JSON
// (application/json), optionally gzip-encoded, as the OpenTelemetry SDKs
// send it. Spans go into the TraceStore ring.
//
// Bounds and answers: a body (or its gunzipped form) over bodyBytesMax is
// refused with 413 before it is read further; another content type is 415;
// a body that does not decode is 400 with the reason; success is 200 with an
// empty ExportTraceServiceResponse in the request's encoding.
import { gunzipSync } from "node:zlib";
import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeOtlpJson, decodeOtlpProtobuf, OtlpDecodeError, type DecodedSpan } from "../tracing";
import type { TraceStore } from "./trace-store";

export interface OtlpReceiverStats {
  requests: number;
  refused: number;
  spans: number;
}

class TooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > max) { reject(new TooLarge(`body of ${declared} bytes > ${max}`)); return; }
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > max) { req.removeAllListeners("data"); req.resume(); reject(new TooLarge(`body over ${max} bytes`)); return; }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function answer(res: ServerResponse, status: number, json: boolean, message = ""): void {
  const body = status === 200 ? (json ? "{}" : "") : JSON.stringify({ code: status, message });
  res.writeHead(status, {
    "content-type": status === 200 && !json ? "application/x-protobuf" : "application/json",
    "content-length": Buffer.byteLength(body), "cache-control": "no-store",
    // The body may be left unread (413): the connection cannot be reused.
    ...(status === 413 ? { connection: "close" } : {}),
  });
  res.end(body);
}

export async function receiveOtlp(req: IncomingMessage, res: ServerResponse, store: TraceStore, bodyBytesMax: number, stats: OtlpReceiverStats): Promise<void> {
  stats.requests++;
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const json = type === "application/json";
  if (!json && type !== "application/x-protobuf") {
    stats.refused++;
    req.resume();
    return answer(res, 415, true, `content-type ${type || "(none)"}: send application/x-protobuf or application/json (OTLP/HTTP)`);
  }
  let spans: DecodedSpan[];
  try {
    let body = await readBody(req, bodyBytesMax);
    if (String(req.headers["content-encoding"] ?? "").toLowerCase() === "gzip") {
      try {
        body = gunzipSync(body, { maxOutputLength: bodyBytesMax });
      } catch (e) {
        if (e instanceof RangeError || (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw new TooLarge(`gunzipped body over ${bodyBytesMax} bytes`);
        throw new OtlpDecodeError(`bad gzip: ${(e as Error).message}`);
      }
    }
    spans = json ? decodeOtlpJson(body.toString("utf8")) : decodeOtlpProtobuf(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  } catch (e) {
    stats.refused++;
    if (e instanceof TooLarge) return answer(res, 413, json, e.message);
    if (e instanceof OtlpDecodeError) return answer(res, 400, json, e.message);
    throw e;
  }
  store.add(spans);
  stats.spans += spans.length;
  answer(res, 200, json);
}
