// The local-link seam (firmware/platform.ts) on Moddable: stream links on the
// `socket` module's TCP `Socket`/`Listener` (a gateway listens, children
// connect) and datagrams on its UDP `Socket` (mesh peers). Framing and every
// protocol rule live in the pure cores (firmware/edge); this moves bytes.
//
// The socket callbacks: connected (1), readable (2, bytes ready), writable
// (3, bytes that fit now), disconnected (-1), error (-2). What does not fit
// the socket's send buffer waits in a queue bounded by `linkSendQueueBytesMax`
// and drains on `writable`; past the bound `send` returns false (the core
// closes the link). Every socket ends in `closed` exactly once.
import { Listener, Socket } from "socket";
import type { DatagramTransport, StreamLink, StreamLinkHandler, StreamTransport } from "../platform";

/** Unsent bytes one link may hold on the device (beyond the socket's own buffer). */
export const linkSendQueueBytesMax = 8 * 1024 + 80 * 1024;
export const datagramBytesMax = 1400;

const Msg = Object.freeze({ Connected: 1, Readable: 2, Writable: 3, Disconnected: -1, Error: -2 } as const);

interface TcpSocketLike {
  callback: (message: number, value?: number) => void;
  read(type: typeof ArrayBuffer): ArrayBuffer;
  write(data?: ArrayBuffer): number;
  close(): void;
}

class SocketLink implements StreamLink {
  readonly remote: string;
  readonly #socket: TcpSocketLike;
  #handler: StreamLinkHandler | undefined;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #writable = 0;
  #closed = false;

  constructor(socket: TcpSocketLike, remote: string) {
    this.remote = remote;
    this.#socket = socket;
    socket.callback = (message: number, value?: number) => this.#onMessage(message, value ?? 0);
  }

  attach(h: StreamLinkHandler): void {
    this.#handler = h;
  }

  send(bytes: Uint8Array): boolean {
    if (this.#closed || this.#queued + bytes.length > linkSendQueueBytesMax) return false;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    this.#drain();
    return true;
  }

  close(): void {
    this.#end("closed");
  }

  #onMessage(message: number, value: number): void {
    if (this.#closed) return;
    if (message === Msg.Connected) this.#handler?.opened();
    else if (message === Msg.Readable) {
      if (value > 0) this.#handler?.data(new Uint8Array(this.#socket.read(ArrayBuffer)));
    } else if (message === Msg.Writable) {
      this.#writable = value;
      this.#drain();
    } else this.#end(message === Msg.Error ? "socket error" : "peer closed");
  }

  #drain(): void {
    // write() with no argument: the bytes the socket takes now (Moddable's socket API).
    if (this.#queue.length > 0) this.#writable = this.#socket.write();
    while (this.#queue.length > 0 && this.#writable > 0) {
      const head = this.#queue[0]!;
      const n = Math.min(head.length, this.#writable);
      // Exact-size copy: socket.write takes an ArrayBuffer.
      this.#socket.write(exactBuffer(head, n));
      this.#writable -= n;
      this.#queued -= n;
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
    }
  }

  #end(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#queued = 0;
    try {
      this.#socket.close();
    } catch {
      // already closed by the peer
    }
    this.#handler?.closed(reason);
  }
}

export function socketLinks(): StreamTransport {
  return {
    listen(port, accept, failed) {
      let listener: Listener;
      try {
        listener = new Listener({ port });
      } catch (e) {
        // Moddable throws when the port cannot be bound; the seam reports it on a later turn.
        Promise.resolve().then(() => failed?.(String(e)));
        return { port, close: () => {} };
      }
      listener.callback = function (this: Listener) {
        const socket = new Socket({ listener: this }) as unknown as TcpSocketLike;
        const link = new SocketLink(socket, "peer");
        link.attach(accept(link));
      };
      return { port, close: () => (listener as unknown as { close(): void }).close() };
    },
    connect(host, port, handler) {
      const socket = new Socket({ host, port, noDelay: true }) as unknown as TcpSocketLike;
      const link = new SocketLink(socket, `${host}:${port}`);
      link.attach(handler);
      return link;
    },
  };
}

interface UdpSocketLike {
  callback: (message: number, value: number, address: string, port: number) => void;
  read(type: typeof ArrayBuffer): ArrayBuffer;
  write(address: string, port: number, data: ArrayBuffer): void;
  close(): void;
}

export function socketDatagrams(): DatagramTransport {
  return {
    open(port, receive) {
      const socket = new Socket({ kind: "UDP", port }) as unknown as UdpSocketLike;
      let open = true;
      socket.callback = (message, value, address, fromPort) => {
        if (open && message === Msg.Readable && value > 0) receive(`${address}:${fromPort}`, new Uint8Array(socket.read(ArrayBuffer)));
      };
      return {
        port,
        send(to, bytes) {
          const i = to.lastIndexOf(":");
          if (!open || i < 0 || bytes.length > datagramBytesMax) return false;
          socket.write(to.slice(0, i), Number(to.slice(i + 1)), exactBuffer(bytes, bytes.length));
          return true;
        },
        close() {
          if (!open) return;
          open = false;
          socket.close();
        },
      };
    },
  };
}

/** The first `n` bytes of `b` as their own ArrayBuffer (what socket.write takes). */
function exactBuffer(b: Uint8Array, n: number): ArrayBuffer {
  const out = new Uint8Array(n);
  out.set(n === b.length ? b : b.subarray(0, n));
  return out.buffer as ArrayBuffer;
}
