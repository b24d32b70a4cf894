// One conformance suite for the local-link seam (firmware/platform.ts), run
// against every implementation: the in-memory LAN of the simulator (on its
// clock) and node:net / node:dgram of the host port (real sockets). Stream
// links: bytes arrive in order whatever the chunking, both ends hear
// `closed` once, a connect to nobody ends in `closed`, a send after close is
// refused. Datagrams: delivered whole with the sender's address; an
// oversized one is refused. (The Moddable socket version is built by
// mcconfig; it has no runner here.)
import { describe, expect, it } from "vitest";
import type { DatagramTransport, StreamLink, StreamLinkHandler, StreamTransport } from "../../firmware/platform";
import { MemoryNetwork } from "../../firmware/sim/memory-links";
import { SeededRandom, SimClock } from "../../firmware/sim/sim-clock";
import { tcpLinks, udpDatagrams } from "../../firmware/host/net-links";
import { waitFor } from "../harness/wait";

interface Impl {
  name: string;
  make(): { server: StreamTransport; client: StreamTransport; dgA: DatagramTransport; dgB: DatagramTransport; host: string; serverHost: string; pump(): void };
}

const impls: Impl[] = [
  {
    name: "in-memory LAN",
    make() {
      const clock = new SimClock();
      const net = new MemoryNetwork(clock, new SeededRandom(3));
      net.setFaults({ delayMs: 2, jitterMs: 5 });
      const a = net.host("a");
      const b = net.host("b");
      return { server: a.links, client: b.links, dgA: a.datagrams, dgB: b.datagrams, host: "b", serverHost: "a", pump: () => clock.advance(20) };
    },
  },
  {
    name: "node:net / node:dgram",
    make() {
      return { server: tcpLinks(), client: tcpLinks(), dgA: udpDatagrams(), dgB: udpDatagrams(), host: "127.0.0.1", serverHost: "127.0.0.1", pump: () => {} };
    },
  },
];

function handler(): { h: StreamLinkHandler; bytes: number[]; opens: () => number; closes: () => number } {
  const bytes: number[] = [];
  let opens = 0;
  let closes = 0;
  return {
    h: { opened: () => { opens++; }, data: (c) => { for (const b of c) bytes.push(b); }, closed: () => { closes++; } },
    bytes, opens: () => opens, closes: () => closes,
  };
}

for (const impl of impls) {
  describe(`local links: ${impl.name}`, () => {
    const until = async (what: string, f: () => boolean, pump: () => void): Promise<void> => {
      await waitFor(what, () => { pump(); return f(); }, { timeoutMs: 10_000, intervalMs: 5 });
    };

    it("carries bytes in order, and both ends hear closed once", async () => {
      const env = impl.make();
      let accepted: StreamLink | undefined;
      const srv = handler();
      // 0 asks for any port; the in-memory LAN and the TCP listener both report it.
      const listener = env.server.listen(impl.name === "in-memory LAN" ? 1884 : 0, (link) => { accepted = link; return srv.h; });
      await until("listener bound", () => listener.port > 0, env.pump);
      const cli = handler();
      const link = env.client.connect(env.serverHost, listener.port, cli.h);
      await until("connected", () => cli.opens() === 1 && accepted !== undefined, env.pump);
      const sent: number[] = [];
      for (let i = 0; i < 50; i++) {
        const chunk = new Uint8Array(1 + (i * 37) % 300).map((_, k) => (i + k) & 0xff);
        for (const b of chunk) sent.push(b);
        expect(link.send(chunk)).toBe(true);
      }
      await until("all bytes at the server", () => srv.bytes.length === sent.length, env.pump);
      expect(srv.bytes).toEqual(sent);
      expect(accepted!.send(new Uint8Array([1, 2, 3]))).toBe(true);
      await until("reply at the client", () => cli.bytes.length === 3, env.pump);
      link.close();
      await until("both ends closed", () => cli.closes() === 1 && srv.closes() === 1, env.pump);
      expect(link.send(new Uint8Array([9]))).toBe(false);
      listener.close();
      for (let i = 0; i < 5; i++) env.pump();
      expect(cli.closes()).toBe(1);
      expect(srv.closes()).toBe(1);
    });

    it("listening on a port in use reports failed", async () => {
      const env = impl.make();
      const first = env.server.listen(impl.name === "in-memory LAN" ? 1900 : 0, () => handler().h);
      await until("first listener bound", () => first.port > 0, env.pump);
      let reason = "";
      env.server.listen(first.port, () => handler().h, (r) => { reason = r; });
      await until("the second listen failed", () => reason !== "", env.pump);
      expect(reason).toMatch(/in use|EADDRINUSE/i);
      first.close();
    });

    it("a connect to a port nobody listens on ends in closed, never opened", async () => {
      const env = impl.make();
      const cli = handler();
      env.client.connect(env.serverHost, 1, cli.h);
      await until("closed", () => cli.closes() === 1, env.pump);
      expect(cli.opens()).toBe(0);
    });

    it("datagrams arrive whole with the sender's address; an oversized one is refused", async () => {
      const env = impl.make();
      const got: Array<{ from: string; bytes: number[] }> = [];
      const a = env.dgA.open(impl.name === "in-memory LAN" ? 7000 : 0, (from, bytes) => got.push({ from, bytes: [...bytes] }));
      const b = env.dgB.open(impl.name === "in-memory LAN" ? 7001 : 0, () => {});
      await until("bound", () => a.port > 0 && b.port > 0, env.pump);
      expect(b.send(`${env.serverHost}:${a.port}`, new Uint8Array([1, 2, 3]))).toBe(true);
      expect(b.send(`${env.serverHost}:${a.port}`, new Uint8Array(5000))).toBe(false);
      await until("datagram", () => got.length === 1, env.pump);
      expect(got[0]).toEqual({ from: `${env.host}:${b.port}`, bytes: [1, 2, 3] });
      a.close();
      b.close();
    });
  });
}
