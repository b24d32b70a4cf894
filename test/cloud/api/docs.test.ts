// The API reference and the AsyncAPI file name every endpoint and event the
// code serves, so the docs cannot silently fall behind.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ApiEndpoint, ApiErrorCode } from "../../../cloud/api/types";
import { apiSubject, DeviceEvent } from "../../../cloud/subjects";
import { Downlink, Uplink } from "../../../shared/topics";

const root = path.resolve(import.meta.dirname, "../../..");
const apiMd = readFileSync(path.join(root, "docs/api.md"), "utf8");
const asyncApi = readFileSync(path.join(root, "docs/asyncapi.yaml"), "utf8");

describe("API documentation", () => {
  it("documents every endpoint in api.md and asyncapi.yaml", () => {
    for (const e of Object.values(ApiEndpoint)) {
      expect(apiMd).toContain(`\`${apiSubject(e)}\``);
      expect(asyncApi).toContain(`\n  ${apiSubject(e)}:\n`);
    }
  });

  it("documents every device subject, event and error code", () => {
    for (const k of [...Object.values(Uplink), ...Object.values(Downlink)]) {
      expect(apiMd).toContain(`| \`${k}\` |`);
      expect(asyncApi).toContain(`\n  xsfleet.v1.dev.{deviceId}.${k}:\n`);
    }
    for (const ev of Object.values(DeviceEvent)) {
      expect(apiMd).toContain(ev);
      expect(asyncApi).toContain(`\n  xsfleet.v1.events.{deviceId}.${ev}:\n`);
    }
    for (const c of Object.values(ApiErrorCode)) {
      expect(apiMd).toContain(`| \`${c}\` |`);
      expect(asyncApi).toContain(c);
    }
  });
});
