// The local-link seam (firmware/platform.ts) on Node: stream links on
// `node:net` (a gateway listens, children connect) and datagrams on
// `node:dgram` (mesh peers). Framing and every protocol rule live in the
// pure cores (firmware/edge); this only moves bytes.
//
// Bounds: a link whose unsent bytes (socket.writableLength) would pass
// `sendQueueBytesMax` refuses the send (the core then closes it), so a slow
// peer cannot make the process buffer without limit; datagrams above
// `datagramBytesMax` are refused. Every socket error ends in `closed` once.
import dgram from "node:dgram";
import net from "node:net";
import type { DatagramTransport, StreamLink, StreamLinkHandler, StreamTransport } from "../platform";

export const sendQueueBytesMax = 256 * 1024;
export const datagramBytesMax = 1400;

export interface TcpLinksOptions {
  /** Interface the listener binds (default 127.0.0.1: a LAN deployment passes 0.0.0.0). */
  bindHost?: string;
}

export function tcpLinks(opts: TcpLinksOptions = {}): StreamTransport {
  return {
    listen(port, accept, failed) {
      const server = net.createServer((socket) => {
        socket.setNoDelay(true);
        const link = wrap(socket, `${socket.remoteAddress}:${socket.remotePort}`);
        link.attach(accept(link), true);
      });
      server.on("error", (e) => {
        server.close();
        failed?.(e.message);
      });
      server.listen(port, opts.bindHost ?? "127.0.0.1");
      const address = server.address();
      return {
        get port() {
          const a = server.address();
          return typeof a === "object" && a !== null ? a.port : typeof address === "object" && address !== null ? address.port : port;
        },
        close: () => { server.close(); },
      };
    },
    connect(host, port, handler) {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const link = wrap(socket, `${host}:${port}`);
      link.attach(handler, false);
      return link;
    },
  };
}

function wrap(socket: net.Socket, remote: string): StreamLink & { attach(h: StreamLinkHandler, open: boolean): void } {
  let closed = false;
  let handler: StreamLinkHandler | undefined;
  const end = (reason: string): void => {
    if (closed) return;
    closed = true;
    socket.destroy();
    handler?.closed(reason);
  };
  return {
    remote,
    attach(h, open) {
      handler = h;
      if (open) queueMicrotask(() => { if (!closed) h.opened(); });
      else socket.on("connect", () => { if (!closed) h.opened(); });
      socket.on("data", (chunk: Buffer) => { if (!closed) h.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)); });
      socket.on("error", (e) => end(e.message));
      socket.on("close", () => end("closed"));
      socket.on("end", () => end("peer closed"));
    },
    send(bytes) {
      if (closed || socket.writableLength + bytes.length > sendQueueBytesMax) return false;
      socket.write(bytes);
      return true;
    },
    close() {
      if (closed) return;
      // Graceful: what was written still goes, then FIN; `closed` on a later turn.
      socket.end();
      const h = handler;
      closed = true;
      setImmediate(() => h?.closed("closed"));
    },
  };
}

export function udpDatagrams(opts: { bindHost?: string } = {}): DatagramTransport {
  return {
    open(port, receive) {
      const sock = dgram.createSocket("udp4");
      let open = true;
      let bound = port;
      sock.on("message", (msg, rinfo) => { if (open) receive(`${rinfo.address}:${rinfo.port}`, new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)); });
      sock.on("error", () => { open = false; sock.close(); });
      sock.bind(port, opts.bindHost ?? "127.0.0.1", () => { bound = sock.address().port; });
      return {
        get port() {
          return bound;
        },
        send(to, bytes) {
          const i = to.lastIndexOf(":");
          if (!open || i < 0 || bytes.length > datagramBytesMax) return false;
          sock.send(bytes, Number(to.slice(i + 1)), to.slice(0, i));
          return true;
        },
        close() {
          if (!open) return;
          open = false;
          sock.close();
        },
      };
    },
  };
}
