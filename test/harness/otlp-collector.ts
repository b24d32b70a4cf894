// A minimal OTLP/HTTP collector for tests: accepts POST /v1/traces with
// protobuf or JSON bodies, decodes them with the official OTLP definitions
// (cloud/tracing/otlp-decode.ts loads opentelemetry-proto's .proto files)
// and keeps every span. Real HTTP, real exporter on the other side.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeOtlpJson, decodeOtlpProtobuf, type DecodedSpan } from "../../cloud/tracing";

export interface OtlpCollector {
  /** Base URL (http://127.0.0.1:port); the traces URL is url + "/v1/traces". */
  readonly url: string;
  readonly spans: DecodedSpan[];
  /** Request bodies by content type, for tests that check the wire format. */
  readonly contentTypes: string[];
  byName(name: string): DecodedSpan[];
  close(): Promise<void>;
}

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: DecodedSpan[] = [];
  const contentTypes: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const type = String(req.headers["content-type"] ?? "");
      contentTypes.push(type);
      try {
        spans.push(...(type.includes("json") ? decodeOtlpJson(body.toString("utf8")) : decodeOtlpProtobuf(new Uint8Array(body))));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch (e) {
        res.writeHead(400).end(String(e));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    spans, contentTypes,
    byName: (name) => spans.filter((s) => s.name === name),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
