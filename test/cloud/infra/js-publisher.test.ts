import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { startNats, type NatsCluster } from "../../harness/nats";
import { connectNats, JsPublisher, parsePubAck } from "../../../cloud/nats";

describe("JsPublisher against a real server", () => {
  let nats: NatsCluster;
  beforeAll(async () => { nats = await startNats(); });
  afterAll(async () => { await nats?.stop(); });

  it("resolves with the stream's PubAck, deduplicates by msg id, keeps headers, rejects what no stream takes and what times out", async () => {
    const nc = await connectNats({ servers: nats.servers, name: "jspub-test" });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "JSPUB", subjects: ["jspub.>"], duplicate_window: 60_000_000_000 });
    const pub = new JsPublisher(nc, 500);

    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publish(`jspub.${i % 7}`, new Uint8Array([i & 0xff]), { msgID: `m-${i}` })));
    expect(acks.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(acks.every((a) => a.stream === "JSPUB" && !a.duplicate)).toBe(true);

    const h = headers();
    h.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const again = await pub.publish("jspub.0", new Uint8Array([0]), { msgID: "m-0", headers: h });
    expect(again).toMatchObject({ stream: "JSPUB", seq: 1, duplicate: true });
    const fresh = await pub.publish("jspub.h", new Uint8Array([1]), { msgID: "m-h", headers: h });
    const stored = await jsm.streams.getMessage("JSPUB", { seq: fresh.seq });
    expect(stored?.header.get("traceparent")).toBe(h.get("traceparent"));
    expect(stored?.header.get("Nats-Msg-Id")).toBe("m-h");
    expect((await jsm.streams.info("JSPUB")).state.messages).toBe(201);

    await expect(pub.publish("nostream.x", new Uint8Array([1]))).rejects.toThrow(/no responders/);
    // A subscriber that never answers: the sweep rejects the publish after its timeout.
    const silent = nc.subscribe("silent.x", { callback: () => undefined });
    await nc.flush();
    await expect(pub.publish("silent.x", new Uint8Array([1]))).rejects.toThrow(/no ack within 500 ms/);
    expect(pub.pending).toBe(0);
    silent.unsubscribe();

    const waiting = pub.publish("silent2.x", new Uint8Array([1]));
    pub.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(pub.publish("jspub.1", new Uint8Array([1]))).rejects.toThrow(/closed/);
    await nc.close();
  });

  it("waits for acks on the connection's own inbox prefix (a principal may subscribe only to its own inbox)", async () => {
    const nc = await connect({ servers: nats.servers, inboxPrefix: "_INBOX_jspub" });
    const spy = await connect({ servers: nats.servers });
    const jsm = await jetstreamManager(spy);
    await jsm.streams.add({ name: "JSPUB2", subjects: ["jspub2.>"] });
    const seen: string[] = [];
    spy.subscribe("_INBOX_jspub.>", { callback: (_e, m) => { seen.push(m.subject); } });
    await spy.flush();
    const pub = new JsPublisher(nc, 5_000);
    const ack = await pub.publish("jspub2.a", new Uint8Array([1]));
    expect(ack).toMatchObject({ stream: "JSPUB2", seq: 1 });
    await spy.flush();
    expect(seen.length).toBe(1);
    expect(seen[0]).toMatch(/^_INBOX_jspub\.[A-Za-z0-9]+\.1$/);
    pub.close();
    await nc.close();
    await spy.close();
  });

  it("turns API errors and malformed replies into errors, never into acks", () => {
    const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
    expect(parsePubAck({ data: enc({ stream: "S", seq: 3 }), headers: undefined })).toMatchObject({ stream: "S", seq: 3, duplicate: false });
    expect(parsePubAck({ data: enc({ error: { code: 400, err_code: 10060, description: "expected stream does not match" } }), headers: undefined })).toBeInstanceOf(Error);
    expect(parsePubAck({ data: enc({ stream: "", seq: 1 }), headers: undefined })).toBeInstanceOf(Error);
    expect(parsePubAck({ data: enc({ stream: "S" }), headers: undefined })).toBeInstanceOf(Error);
    expect(parsePubAck({ data: new TextEncoder().encode("{not json"), headers: undefined })).toBeInstanceOf(Error);
    expect(parsePubAck({ data: new Uint8Array(0), headers: undefined })).toBeInstanceOf(Error);
  });
});
