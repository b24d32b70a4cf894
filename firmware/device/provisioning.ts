// First boot with a one-time claim (docs/security.md): the device connects
// with the claim as its MQTT password (username and client id = its device
// id), subscribes to the claim's response topic, asks on the request topic
// for its own credential, stores the answer in flash (key "cred", with the
// claim id it came from), tells the cloud it has it (`done`, which lets the
// cloud revoke the claim's key) and hands the credential to the caller, who
// starts the runtime with it. Later boots find the stored credential and
// skip all of this; a device flashed with a different claim provisions
// again.
//
// States: Idle → Connecting → Asking (subscribed, request out, waiting for
// the answer) → Storing (answer in, `done` out) → Done; any connection loss
// goes through Waiting (backoff with full jitter) back to Connecting. A
// refusal the device cannot fix (claim used, expired, revoked, for another
// device, malformed) ends in Failed: retrying would not help, the claim
// must be replaced. Rate limits and a busy cloud are retried with backoff.
// Socket callbacks only record what happened; work runs on a timer turn.
import {
  ProvisioningError, ProvisioningOp, ProvisioningTopic, credentialBytesMax, decodeProvisioningResponse, encodeProvisioningRequest, isRetryable,
  parseClaimToken, provisioningTopic,
} from "../../shared/provisioning";
import { utf8Decode, utf8Encode } from "../../shared/proto/utf8";
import type { MqttClient, Platform, Storage, TimerId } from "../platform";
import { LogLevel } from "../platform";
import { Backoff, backoffDefaults, type BackoffPolicy } from "./backoff";
import { exactArrayBuffer } from "./bytes";

export const ProvisioningState = Object.freeze({ Idle: 0, Connecting: 1, Asking: 2, Storing: 3, Waiting: 4, Done: 5, Failed: 6, Stopped: 7 } as const);
export type ProvisioningState = (typeof ProvisioningState)[keyof typeof ProvisioningState];

/** Storage key of the credential ("<claimId>\n<JWT>"). */
export const credentialKey = "cred";
/** Requests sent on one connection before it is dropped and made again. */
export const requestsPerConnectionMax = 3;
/** How long the device waits for the PUBACK of `done` before moving on. */
export const doneWaitMs = 2_000;
/**
 * Connections the broker refuses in a row ("not authorized") before the
 * device gives up: the claim's key was revoked (used or revoked claim) or
 * its JWT expired. Fewer would mistake a broker restarting for a dead claim.
 */
export const refusedConnectsMax = 3;

export interface ProvisionerOptions {
  deviceId: string;
  brokerUrls: readonly string[];
  /** The claim token: "<claimId>.<claim JWT>" (manifest config `claim`). */
  claim: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  /** Wait for an answer before asking again. */
  responseTimeoutMs: number;
  backoff: BackoffPolicy;
}

export type ProvisioningEvent =
  | { type: "provisioned"; claimId: string; expiresS: number }
  | { type: "provisioning-failed"; claimId: string; code: ProvisioningError; message: string };

export interface ProvisionerStats {
  state: ProvisioningState;
  connects: number;
  requests: number;
  lastError: string;
}

/** The credential stored by an earlier provisioning with `claimId` (any claim when omitted). */
export function storedCredential(storage: Storage, claimId?: string): string | undefined {
  const bytes = storage.read(credentialKey);
  if (bytes === undefined || bytes.length > credentialBytesMax + 64) return undefined;
  const text = utf8Decode(bytes);
  const nl = text.indexOf("\n");
  if (nl < 0) return undefined;
  if (claimId !== undefined && text.slice(0, nl) !== claimId) return undefined;
  const jwt = text.slice(nl + 1);
  return jwt.split(".").length === 3 ? jwt : undefined;
}

export function storeCredential(storage: Storage, claimId: string, jwt: string): void {
  storage.write(credentialKey, utf8Encode(`${claimId}\n${jwt}`));
}

export class DeviceProvisioner {
  readonly #p: Platform;
  readonly #o: ProvisionerOptions;
  readonly #claimId: string;
  readonly #claimJwt: string;
  readonly #requestTopic: string;
  readonly #responseTopic: string;
  readonly #backoff: Backoff;
  readonly #onDone: (credential: string) => void;
  readonly #observer: ((e: ProvisioningEvent) => void) | undefined;
  #state: ProvisioningState = ProvisioningState.Idle;
  #client: MqttClient | undefined;
  #gen = 0;
  #timer: TimerId | undefined;
  #urlIndex = 0;
  #nonce = 0;
  #sentOnConnection = 0;
  #connects = 0;
  #requests = 0;
  #lastError = "";
  #refusedInARow = 0;
  /** While Storing: ends the phase (PUBACK of `done`, the connection closing, or doneWaitMs). */
  #finishStoring: (() => void) | undefined;

  constructor(platform: Platform, opts: ProvisionerOptions, onDone: (credential: string) => void, observer?: (e: ProvisioningEvent) => void) {
    const parsed = parseClaimToken(opts.claim);
    if (parsed === null) throw new Error("claim must be a claim token \"<claimId>.<JWT>\" as `xsfleet claims create` prints it");
    this.#p = platform;
    this.#o = opts;
    this.#claimId = parsed.claimId;
    this.#claimJwt = parsed.jwt;
    this.#requestTopic = provisioningTopic(parsed.claimId, ProvisioningTopic.Request);
    this.#responseTopic = provisioningTopic(parsed.claimId, ProvisioningTopic.Response);
    this.#backoff = new Backoff(opts.backoff, platform.random);
    this.#onDone = onDone;
    this.#observer = observer;
    this.#nonce = platform.random.u32() >>> 1;
  }

  get claimId(): string {
    return this.#claimId;
  }

  stats(): ProvisionerStats {
    return { state: this.#state, connects: this.#connects, requests: this.#requests, lastError: this.#lastError };
  }

  start(): void {
    if (this.#state !== ProvisioningState.Idle) throw new Error("provisioner already started");
    this.#connect();
  }

  stop(): void {
    if (this.#state === ProvisioningState.Done || this.#state === ProvisioningState.Failed) return;
    this.#state = ProvisioningState.Stopped;
    this.#drop();
  }

  #connect(): void {
    this.#timer = undefined;
    if (this.#state === ProvisioningState.Stopped) return;
    const gen = ++this.#gen;
    this.#state = ProvisioningState.Connecting;
    this.#sentOnConnection = 0;
    const o = this.#o;
    const url = o.brokerUrls[this.#urlIndex % o.brokerUrls.length]!;
    let client: MqttClient;
    try {
      client = this.#p.mqttConnect(url, {
        clientId: o.deviceId, username: o.deviceId, password: this.#claimJwt, keepalive: o.keepaliveS, clean: true, reconnectPeriod: 0,
        connectTimeout: o.connectTimeoutMs,
      });
    } catch (e) {
      this.#lost(`connect threw: ${String(e)}`);
      return;
    }
    this.#client = client;
    client.on("connect", () => { if (gen === this.#gen) this.#later(() => this.#onConnect(gen)); });
    client.on("message", (topic: string, payload: ArrayBuffer) => {
      if (gen === this.#gen && topic === this.#responseTopic) {
        const bytes = new Uint8Array(payload);
        this.#later(() => this.#onAnswer(gen, bytes));
      }
    });
    const lost = (why: string) => (): void => { if (gen === this.#gen) this.#later(() => this.#lost(why)); };
    client.on("close", lost("connection closed"));
    client.on("offline", lost("offline"));
    client.on("error", (e: Error) => {
      if (gen !== this.#gen) return;
      const message = e?.message ?? String(e);
      this.#later(() => this.#refusedOrLost(message));
    });
    this.#arm(gen, o.connectTimeoutMs, "connect timeout");
  }

  #onConnect(gen: number): void {
    if (gen !== this.#gen || this.#state !== ProvisioningState.Connecting) return;
    this.#clearTimer();
    this.#connects++;
    this.#refusedInARow = 0;
    this.#state = ProvisioningState.Asking;
    // Ask only once the server has the subscription: the answer is QoS 0 and not kept for us.
    this.#client!.subscribe(this.#responseTopic, { qos: 0 }, (err) => {
      if (!err && gen === this.#gen) this.#later(() => this.#ask(gen));
    });
    this.#arm(gen, this.#o.responseTimeoutMs, "no SUBACK");
  }

  #ask(gen: number): void {
    if (gen !== this.#gen || this.#state !== ProvisioningState.Asking) return;
    if (this.#sentOnConnection >= requestsPerConnectionMax) {
      this.#lost("no answer");
      return;
    }
    this.#sentOnConnection++;
    this.#requests++;
    this.#nonce = (this.#nonce + 1) >>> 0;
    this.#publish(ProvisioningOp.Issue);
    this.#arm(gen, this.#o.responseTimeoutMs, "", () => this.#ask(gen));
  }

  #onAnswer(gen: number, bytes: Uint8Array): void {
    if (gen !== this.#gen || this.#state !== ProvisioningState.Asking) return;
    const r = decodeProvisioningResponse(bytes);
    if (r === null || r.nonce !== this.#nonce || r.op !== ProvisioningOp.Issue) return; // not ours, or a late answer to an earlier request
    this.#clearTimer();
    if (!r.ok) {
      this.#lastError = `${r.code}: ${r.message}`;
      if (isRetryable(r.code)) {
        this.#p.log(LogLevel.Warn, `provisioning: ${this.#lastError}; retrying`);
        this.#arm(gen, this.#backoff.next(), "", () => this.#ask(gen));
        return;
      }
      this.#fail(r.code, r.message);
      return;
    }
    if (r.credential === undefined || r.deviceId !== this.#o.deviceId) {
      this.#lost("answer without a credential for this device");
      return;
    }
    const credential = r.credential;
    storeCredential(this.#p.storage, this.#claimId, credential); // durable before anything else happens
    this.#state = ProvisioningState.Storing;
    this.#p.log(LogLevel.Info, `provisioning: credential stored (claim ${this.#claimId}, expires ${r.expiresS ?? 0})`);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.#finishStoring = undefined;
      this.#clearTimer();
      this.#state = ProvisioningState.Done;
      this.#drop();
      this.#emit({ type: "provisioned", claimId: this.#claimId, expiresS: r.expiresS ?? 0 });
      this.#onDone(credential);
    };
    // `done` lets the cloud revoke the claim's key; its PUBACK (or the claim's own revocation closing
    // the connection) ends this phase. Without either, doneWaitMs does.
    this.#finishStoring = finish;
    this.#publish(ProvisioningOp.Done, () => this.#later(finish));
    this.#timer = this.#p.timers.set(finish, doneWaitMs);
  }

  #publish(op: ProvisioningOp, cb?: () => void): void {
    const body = encodeProvisioningRequest({ op, deviceId: this.#o.deviceId, nonce: this.#nonce });
    this.#client!.publish(this.#requestTopic, exactArrayBuffer(body), { qos: 1, retain: false }, cb ? () => cb() : undefined);
  }

  #refusedOrLost(message: string): void {
    if (this.#state === ProvisioningState.Connecting && /not authori[sz]ed/i.test(message) && ++this.#refusedInARow >= refusedConnectsMax) {
      this.#fail(ProvisioningError.Refused, `the broker refused the claim ${this.#refusedInARow} times in a row (${message}): it was used, revoked or has expired`);
      return;
    }
    this.#lost(`error: ${message}`);
  }

  #fail(code: ProvisioningError, message: string): void {
    this.#state = ProvisioningState.Failed;
    this.#drop();
    this.#p.log(LogLevel.Error, `provisioning with claim ${this.#claimId} refused (${code}): ${message}; flash a new claim`);
    this.#emit({ type: "provisioning-failed", claimId: this.#claimId, code, message });
  }

  #lost(why: string): void {
    const s = this.#state;
    if (s === ProvisioningState.Storing) {
      this.#finishStoring?.();
      return;
    }
    if (s !== ProvisioningState.Connecting && s !== ProvisioningState.Asking) return;
    this.#lastError = why;
    this.#drop();
    this.#state = ProvisioningState.Waiting;
    this.#urlIndex++;
    const delay = this.#backoff.next();
    this.#p.log(LogLevel.Info, `provisioning: ${why}; retry in ${delay} ms`);
    this.#timer = this.#p.timers.set(() => this.#connect(), delay);
  }

  #drop(): void {
    this.#clearTimer();
    const c = this.#client;
    this.#client = undefined;
    this.#gen++;
    if (c === undefined) return;
    try {
      c.end(true);
    } catch {
      // Moddable's mqtt/js throws when ending a client that is still connecting.
    }
  }

  /** Timeout of the current step: `then` runs when given, else the connection is dropped with `why`. */
  #arm(gen: number, ms: number, why: string, then?: () => void): void {
    this.#clearTimer();
    this.#timer = this.#p.timers.set(() => {
      this.#timer = undefined;
      if (gen !== this.#gen) return;
      if (then) then();
      else this.#lost(why);
    }, ms);
  }

  #later(f: () => void): void {
    this.#p.timers.set(f, 0);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#p.timers.clear(this.#timer);
    this.#timer = undefined;
  }

  #emit(e: ProvisioningEvent): void {
    if (this.#observer !== undefined) this.#observer(e);
  }
}

export interface ProvisionedStartOptions {
  deviceId: string;
  brokerUrls: readonly string[];
  /** Claim token; without one the device starts with whatever credentials its options carry. */
  claim?: string;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
  backoff?: BackoffPolicy;
}

/**
 * The boot hook (firmware main, the host port): calls `start` with the MQTT
 * username and password to run with — the stored credential for this claim,
 * or a new one after provisioning. Without a claim, a credential stored by
 * an earlier provisioning is used; with neither, `start` gets null and the
 * device uses what its own config says (an open broker, or a credential
 * flashed by hand). Returns the provisioner when one runs.
 */
export function startWithCredential(
  platform: Platform, o: ProvisionedStartOptions, start: (auth: { username: string; password: string } | null) => void,
  observer?: (e: ProvisioningEvent) => void,
): DeviceProvisioner | null {
  if (o.claim === undefined || o.claim === "") {
    const kept = storedCredential(platform.storage);
    start(kept !== undefined ? { username: o.deviceId, password: kept } : null);
    return null;
  }
  const parsed = parseClaimToken(o.claim);
  if (parsed === null) throw new Error("config.claim must be a claim token \"<claimId>.<JWT>\" as `xsfleet claims create` prints it");
  const stored = storedCredential(platform.storage, parsed.claimId);
  if (stored !== undefined) {
    start({ username: o.deviceId, password: stored });
    return null;
  }
  const p = new DeviceProvisioner(platform, {
    deviceId: o.deviceId, brokerUrls: o.brokerUrls, claim: o.claim, keepaliveS: o.keepaliveS ?? 30, connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    responseTimeoutMs: o.responseTimeoutMs ?? 5_000, backoff: o.backoff ?? backoffDefaults,
  }, (credential) => start({ username: o.deviceId, password: credential }), observer);
  p.start();
  return p;
}
