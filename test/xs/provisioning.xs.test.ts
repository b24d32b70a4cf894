// First-boot provisioning (firmware/device/provisioning.ts, shared/provisioning.ts)
// on the real XS engine: the same simulated exchange — a lost answer, a
// rate-limited one, the credential stored, `done`, a reboot that reuses it,
// a refused claim — gives the same result on XS as on Node.
import { describe, expect, it } from "vitest";
import { runOnXs } from "../harness/xs";
import run, { type ProvisioningScenarioResult } from "./entries/provisioning";

describe("provisioning on XS", () => {
  it("asks again after a lost or rate-limited answer, stores the credential, reuses it after a reboot, gives up on a used claim — as on Node", async () => {
    const onNode = run();
    expect(onNode.requests.slice(0, 4)).toEqual(["issue:xs-1", "issue:xs-1", "issue:xs-1", "done:xs-1"]);
    expect(onNode.events).toEqual(["provisioned:abcdefgh12345678", "start:xs-1"]);
    expect(onNode.credential).toBe(onNode.stored);
    expect(onNode.rebootCredential).toBe(onNode.credential);
    expect(onNode.requestsAfterReboot).toBe(1); // only the other device's request
    expect(onNode.failed).toBe("claim_used");
    const xs = await runOnXs<ProvisioningScenarioResult>("test/xs/entries/provisioning.ts", undefined);
    expect(xs.result).toEqual(onNode);
  });
});
