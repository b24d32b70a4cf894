import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createServer } from "node:net";
import { freePort, startLocalNats } from "../../../cloud/infra";

describe("local stack broker", () => {
  it("starts nats-server with JetStream and MQTT in a state dir and keeps streams across restarts", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "xsfleet-local-"));
    const basePort = await freePort();
    try {
      const first = await startLocalNats({ stateDir, size: 1, basePort });
      expect(first.mqttUrls[0]).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      let nc = await connect({ servers: first.servers });
      await (await jetstreamManager(nc)).streams.add({ name: "KEEP", subjects: ["keep.>"], num_replicas: 1 });
      await nc.close();
      await first.stop();

      const second = await startLocalNats({ stateDir, size: 1, basePort });
      nc = await connect({ servers: second.servers });
      const names: string[] = [];
      for await (const s of (await jetstreamManager(nc)).streams.list()) names.push(s.config.name);
      expect(names).toContain("KEEP");
      await nc.close();
      await second.stop();
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("leaves a busy preferred port to nats-server to pick", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "xsfleet-local-busy-"));
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", () => r()));
    const busy = (squatter.address() as { port: number }).port;
    try {
      const nats = await startLocalNats({ stateDir, size: 1, basePort: busy });
      expect(nats.servers[0]).not.toBe(`nats://127.0.0.1:${busy}`);
      const nc = await connect({ servers: nats.servers });
      await nc.flush();
      await nc.close();
      await nats.stop();
    } finally {
      squatter.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("refuses a cluster size it cannot run", async () => {
    await expect(startLocalNats({ stateDir: tmpdir(), size: 2, basePort: 1 })).rejects.toThrow(/must be 1 or 3/);
  });
});
