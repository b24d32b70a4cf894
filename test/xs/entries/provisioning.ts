// A first boot with a claim, simulated (fake clock, in-memory broker): the
// cloud side loses its first answer and refuses a rate-limited second, the
// device asks again, stores its credential, sends `done` and starts with it;
// then a reboot reuses the stored credential, and a claim the cloud refuses
// for good ends in Failed. Run on XS through runOnXs and directly on Node;
// the test compares the results.
import {
  ProvisioningError, ProvisioningOp, decodeProvisioningRequest, encodeProvisioningResponse, provisioningTopic, ProvisioningTopic,
} from "../../../shared/provisioning";
import { DeviceProvisioner, startWithCredential, storedCredential, type ProvisioningEvent } from "../../../firmware/device/provisioning";
import { createSimPlatform, createSimWorld } from "../../../firmware/sim/sim-platform";

export interface ProvisioningScenarioResult {
  /** What the cloud side saw: op and device id of each request, in order. */
  requests: string[];
  events: string[];
  credential: string | null;
  stored: string | null;
  /** The credential the second boot started with, without asking. */
  rebootCredential: string | null;
  requestsAfterReboot: number;
  failed: string | null;
}

const claimId = "abcdefgh12345678";
const claim = `${claimId}.eyJhIjoxfQ.eyJiIjoyfQ.c2ln`;
const credential = "eyJ0eXAiOiJKV1QifQ.eyJuYW1lIjoieHMtMSJ9.c2lnbmF0dXJl";

export default function run(): ProvisioningScenarioResult {
  const world = createSimWorld({ latencyMs: 5 });
  const platform = createSimPlatform(world, { seed: 11 });
  const requests: string[] = [];
  const events: string[] = [];
  let answered = 0;
  world.broker.subscribe(provisioningTopic("+", ProvisioningTopic.Request), (m) => {
    const req = decodeProvisioningRequest(m.payload);
    if (req === null) return;
    requests.push(`${req.op}:${req.deviceId}`);
    const id = m.topic.split("/")[3]!;
    const resp = provisioningTopic(id, ProvisioningTopic.Response);
    if (req.op === ProvisioningOp.Done) return;
    answered++;
    if (id !== claimId) {
      world.broker.publish(resp, encodeProvisioningResponse({ ok: false, op: req.op, nonce: req.nonce, code: ProvisioningError.Used, message: "claim used" }));
    } else if (answered === 1) {
      // lost: no answer at all
    } else if (answered === 2) {
      world.broker.publish(resp, encodeProvisioningResponse({ ok: false, op: req.op, nonce: req.nonce, code: ProvisioningError.RateLimited, message: "busy" }));
    } else {
      world.broker.publish(resp, encodeProvisioningResponse({ ok: true, op: req.op, deviceId: req.deviceId, nonce: req.nonce, credential, expiresS: 2_000_000_000 }));
    }
  });
  let got: string | null = null;
  const observe = (e: ProvisioningEvent): void => { events.push(e.type === "provisioned" ? `provisioned:${e.claimId}` : `failed:${e.code}`); };
  startWithCredential(platform, { deviceId: "xs-1", brokerUrls: ["mqtt://sim:1883"], claim, responseTimeoutMs: 2_000, backoff: { baseMs: 100, capMs: 1_000 } }, (auth) => {
    got = auth?.password ?? null;
    events.push(`start:${auth?.username ?? "none"}`);
  }, observe);
  for (let i = 0; i < 200 && got === null; i++) world.clock.advance(100);
  world.clock.advance(3_000);
  const stored = storedCredential(platform.storage, claimId) ?? null;

  // Reboot: same flash, same claim in the config; nothing is asked.
  const before = requests.length;
  let rebootCredential: string | null = null;
  const rebooted = createSimPlatform(world, { seed: 12, storage: platform.storage });
  startWithCredential(rebooted, { deviceId: "xs-1", brokerUrls: ["mqtt://sim:1883"], claim }, (auth) => { rebootCredential = auth?.password ?? null; });
  world.clock.advance(1_000);

  // Another device whose claim the cloud refuses for good.
  let failed: string | null = null;
  const other = createSimPlatform(world, { seed: 13 });
  new DeviceProvisioner(other, {
    deviceId: "xs-2", brokerUrls: ["mqtt://sim:1883"], claim: `usedclaim0000000.${claim.slice(claimId.length + 1)}`, keepaliveS: 30, connectTimeoutMs: 1_000,
    responseTimeoutMs: 2_000, backoff: { baseMs: 100, capMs: 1_000 },
  }, () => { failed = "provisioned?!"; }, (e) => { if (e.type === "provisioning-failed") failed = e.code; }).start();
  world.clock.advance(5_000);

  return { requests, events, credential: got, stored, rebootCredential, requestsAfterReboot: requests.length - before, failed };
}
