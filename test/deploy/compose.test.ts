// deploy/docker-compose.yml runs on host networking, so every port is spelled
// out by hand in two files; these checks catch an edit that breaks the
// cluster (a route to nowhere) or makes two services share a port. The stack
// itself runs in `npm run test:containers`.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startStages } from "../../scripts/containers/compose-model";
import { mappingConfigLines } from "../../cloud/infra";
import { defaultIngestConfig } from "../../cloud/ingest";
import { uplinkPartitionMappings } from "../../cloud/subjects";

const deploy = path.resolve(__dirname, "..", "..", "deploy");
const compose = readFileSync(path.join(deploy, "docker-compose.yml"), "utf8");
const natsConf = readFileSync(path.join(deploy, "nats", "nats.conf"), "utf8");
const authConf = readFileSync(path.join(deploy, "nats", "auth.conf"), "utf8");
const all = (re: RegExp, text: string): number[] => [...text.matchAll(re)].map((m) => Number(m[1]));

describe("deploy/docker-compose.yml", () => {
  it("gives every listener its own host port", () => {
    const ports = [
      ...all(/NATS_(?:CLIENT|MQTT|HTTP|CLUSTER)_PORT: "(\d+)"/g, compose),
      ...all(/XSFLEET_HTTP_PORT: "(\d+)"/g, compose),
      ...all(/"--port", "(\d+)"/g, compose),
    ];
    expect(ports.length).toBe(3 * 4 + 3 + 1);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it("routes the NATS nodes to each other's cluster ports and clients to their client ports", () => {
    expect(all(/nats-route:\/\/127\.0\.0\.1:(\d+)/g, natsConf).sort()).toEqual(all(/NATS_CLUSTER_PORT: "(\d+)"/g, compose).sort());
    const servers = /x-nats-servers: &servers "([^"]+)"/.exec(compose)![1]!;
    expect(all(/:(\d+)/g, servers).sort()).toEqual(all(/NATS_CLIENT_PORT: "(\d+)"/g, compose).sort());
    expect(natsConf).toMatch(/stream_replicas: 3/);
  });

  it("maps device uplinks into ingest's partitions on the open broker, as xsfleet up does", () => {
    expect(authConf).toContain(mappingConfigLines(uplinkPartitionMappings(defaultIngestConfig.partitions)).join("\n"));
  });
});

describe("startStages", () => {
  it("orders services by depends_on, each stage only after the ones it needs", () => {
    expect(startStages({
      dash: { depends_on: { api: { condition: "service_healthy" } } },
      api: { depends_on: ["nats", "raft"] },
      raft: { depends_on: ["nats"] },
      nats: {},
    })).toEqual([["nats"], ["raft"], ["api"], ["dash"]]);
  });

  it("refuses a cycle or an unknown dependency with the services named", () => {
    expect(() => startStages({ a: { depends_on: ["b"] }, b: { depends_on: ["a"] } })).toThrow(/cycle or an unknown service among a, b/);
    expect(() => startStages({ a: { depends_on: ["ghost"] } })).toThrow(/among a/);
  });
});
