// Locates the nats-server binary: $NATS_SERVER, then PATH, then Debian's path.
import { accessSync, constants } from "node:fs";
import path from "node:path";

export const natsInstallHint =
  "nats-server was not found. Install it with `sudo apt-get install nats-server` (Debian ships 2.9.x), " +
  "or set NATS_SERVER=/path/to/nats-server, or point xsfleet at a running server with --nats nats://host:4222.";

export function findNatsServer(): string {
  const candidates = [
    process.env.NATS_SERVER,
    ...(process.env.PATH ?? "").split(path.delimiter).map((d) => path.join(d, "nats-server")),
    "/usr/sbin/nats-server",
    "/usr/bin/nats-server",
  ].filter((c): c is string => !!c);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  throw new Error(natsInstallHint);
}
