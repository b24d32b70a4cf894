// A minimal Server-Sent-Events reader for tests: collects frames from a
// streaming GET and lets the test wait for one that matches.
import { get, type IncomingMessage, type ClientRequest } from "node:http";

export interface SseFrame {
  id: string | null;
  data: string;
}

export interface SseReader {
  status: number;
  frames: SseFrame[];
  /** Resolves with the first frame (already received or future) that matches. */
  waitFor(match: (f: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    const frames: SseFrame[] = [];
    const waiters: Array<{ match: (f: SseFrame) => boolean; resolve: (f: SseFrame) => void }> = [];
    let buf = "";
    req = get(url, { headers: { accept: "text/event-stream", ...headers } }, (res: IncomingMessage) => {
      res.setEncoding("utf8");
      const ended = new Promise<void>((r) => { res.on("end", () => r()); res.on("close", () => r()); });
      res.on("data", (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id: string | null = null;
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) id = line.slice(4);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length === 0) continue;
          const f = { id, data: data.join("\n") };
          frames.push(f);
          for (const w of [...waiters]) if (w.match(f)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(f); }
        }
      });
      resolve({
        status: res.statusCode ?? 0,
        frames,
        ended,
        waitFor: (match, timeoutMs = 20_000) => {
          const found = frames.find(match);
          if (found) return Promise.resolve(found);
          return new Promise<SseFrame>((res2, rej2) => {
            const w = { match, resolve: (f: SseFrame) => { clearTimeout(t); res2(f); } };
            const t = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              rej2(new Error(`no matching SSE frame within ${timeoutMs} ms; got ${JSON.stringify(frames.map((x) => x.data))}`));
            }, timeoutMs);
            waiters.push(w);
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on("error", reject);
  });
}
