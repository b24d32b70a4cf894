// The pure parts of trust: nkeys and JWTs made with node:crypto (checked
// against the reference @nats-io/nkeys implementation; nats-server's
// acceptance is checked in device-identity.test.ts), the revocation list's
// bound and pruning, the provisioning rate limits, the device-facing
// provisioning messages, and the permission table in docs/security.md being
// the one the code issues.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import {
  AttemptCounter, KeyPair, KeyType, RevocationKind, RevocationList, RevocationListFull, TokenBucket, decodeJwt, encodeUserJwt, permissionTableMarkdown,
  principalNameBytesMax, rolesPrincipalName,
} from "../../../cloud/security";
import { cloudRoles } from "../../../cloud/base";
import {
  ProvisioningOp, claimToken, decodeProvisioningRequest, decodeProvisioningResponse, encodeProvisioningRequest, encodeProvisioningResponse,
  parseClaimToken, provisioningMessageBytesMax,
} from "../../../shared/provisioning";

const enc = new TextEncoder();

describe("nkeys on node:crypto", () => {
  it("encodes seeds and public keys as the reference implementation does, and signs the same bytes", () => {
    for (const type of [KeyType.Operator, KeyType.Account, KeyType.User]) {
      const mine = KeyPair.create(type);
      const theirs = fromSeed(enc.encode(mine.seed()));
      expect(mine.publicKey).toBe(theirs.getPublicKey());
      const data = enc.encode(`payload ${type}`);
      expect(Buffer.from(mine.sign(data))).toEqual(Buffer.from(theirs.sign(data)));
    }
    const ref = createUser();
    expect(KeyPair.fromSeed(new TextDecoder().decode(ref.getSeed())).publicKey).toBe(ref.getPublicKey());
  });

  it("refuses seeds with a bad checksum or of the wrong type", () => {
    const seed = KeyPair.create(KeyType.User).seed();
    const broken = seed.slice(0, 10) + (seed[10] === "A" ? "B" : "A") + seed.slice(11);
    expect(() => KeyPair.fromSeed(broken)).toThrow(/checksum|nkey/);
    expect(() => KeyPair.fromSeed(seed, KeyType.Account)).toThrow(/expected/);
  });
});

describe("NATS JWTs", () => {
  it("signs user JWTs that verify, and detects tampering", () => {
    const account = KeyPair.create(KeyType.Account);
    const user = KeyPair.create(KeyType.User);
    const jwt = encodeUserJwt({ name: "dev-1", subject: user.publicKey, bearer: true, permissions: { pub: { allow: ["a.b"] }, sub: {} }, expiresS: 2_000_000_000 }, account, 1_700_000_000);
    const body = decodeJwt(jwt);
    expect(body).toMatchObject({ iss: account.publicKey, sub: user.publicKey, name: "dev-1", iat: 1_700_000_000, exp: 2_000_000_000 });
    expect(body.nats).toMatchObject({ type: "user", version: 2, bearer_token: true, pub: { allow: ["a.b"] } });
    expect(body.jti).toMatch(/^[A-Z2-7]{52}$/);
    const [h, p, s] = jwt.split(".");
    const forged = Buffer.from(JSON.stringify({ ...body, nats: { ...body.nats, pub: { allow: [">"] } } })).toString("base64url");
    expect(() => decodeJwt(`${h}.${forged}.${s}`)).toThrow(/signature/);
    expect(() => decodeJwt(`${h}.${p}`)).toThrow(/not a JWT/);
  });
});

describe("revocation list", () => {
  const cred = (publicKey: string, expiresS: number, atS = 10) => ({ publicKey, kind: RevocationKind.Credential, atS, expiresS, reason: "t" });
  const used = (publicKey: string, expiresS: number) => ({ publicKey, kind: RevocationKind.UsedClaim, atS: 10, expiresS, reason: "t" });

  it("is bounded: a credential beyond the limit evicts the used-claim entry that expires first, else is refused", () => {
    const l = new RevocationList(3);
    l.add(cred("UA", 100));
    l.add(used("UC1", 300));
    l.add(used("UC2", 200));
    expect(l.add(cred("UB", 400))).toEqual({ added: true, evicted: used("UC2", 200) });
    expect(l.add(used("UC3", 500))).toEqual({ added: false });
    l.add(cred("UD", 400));
    expect(l.has("UC1")).toBe(false);
    expect(() => l.add(cred("UE", 400))).toThrow(RevocationListFull);
    expect(l.roomFor(1)).toBe(false);
    // A known key is widened, never a second slot; credential wins over used-claim.
    l.add({ ...used("UA", 150), atS: 20 });
    expect(l.get("UA")).toMatchObject({ kind: RevocationKind.Credential, atS: 20, expiresS: 150 });
    expect(l.size).toBe(3);
  });

  it("drops entries once every JWT they cover has expired", () => {
    const l = new RevocationList(10);
    l.add(cred("UA", 100));
    l.add(cred("UB", 200));
    expect(l.claims(150)).toEqual({ UB: 10 });
    expect(l.prune(150)).toBe(1);
    expect(l.size).toBe(1);
    expect(l.claims(150)).toEqual({ UB: 10 });
  });
});

describe("provisioning limits and messages", () => {
  it("token bucket: a burst, then the rate", () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.waitMs()).toBe(100);
    expect(b.take(100)).toBe(true);
    expect(b.take(100)).toBe(false);
  });

  it("attempt counter: per key and window, with a bounded table", () => {
    const c = new AttemptCounter(2, 1000, 2);
    expect([c.allow("a", 0), c.allow("a", 1), c.allow("a", 2)]).toEqual([true, true, false]);
    expect(c.allow("a", 1000)).toBe(true);
    c.allow("b", 1001);
    c.allow("c", 1002); // evicts the oldest window
    expect(c.allow("b", 1003)).toBe(true);
  });

  it("round-trips requests and answers and rejects anything malformed", () => {
    const req = { op: ProvisioningOp.Issue, deviceId: "gh-7", nonce: 42 };
    expect(decodeProvisioningRequest(encodeProvisioningRequest(req))).toEqual(req);
    for (const bad of ["", "[]", "{\"op\":\"issue\",\"deviceId\":\"a.b\",\"nonce\":1}", "{\"op\":\"grant\",\"deviceId\":\"a\",\"nonce\":1}", "{\"op\":\"issue\",\"deviceId\":\"a\",\"nonce\":-1}"]) {
      expect(decodeProvisioningRequest(enc.encode(bad)), bad).toBeNull();
    }
    expect(decodeProvisioningRequest(new Uint8Array(provisioningMessageBytesMax + 1).fill(32))).toBeNull();
    const ok = { ok: true as const, op: ProvisioningOp.Issue, deviceId: "gh-7", nonce: 42, credential: "a.b.c", expiresS: 5 };
    expect(decodeProvisioningResponse(encodeProvisioningResponse(ok))).toEqual(ok);
    expect(decodeProvisioningResponse(enc.encode("{\"ok\":true,\"op\":\"issue\",\"deviceId\":\"x\",\"nonce\":1,\"credential\":\"not-a-jwt\"}"))).toBeNull();
    expect(decodeProvisioningResponse(enc.encode("{\"ok\":false,\"op\":\"issue\",\"nonce\":1,\"code\":\"made_up\"}"))).toBeNull();
    expect(parseClaimToken(claimToken("abcdefgh12345678", "h.p.s"))).toEqual({ claimId: "abcdefgh12345678", jwt: "h.p.s" });
    expect(parseClaimToken("UPPER.h.p.s")).toBeNull();
    expect(parseClaimToken("abcdefgh12345678.not-a-jwt")).toBeNull();
  });
});

it("docs/security.md carries the permission table the code issues", () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, "../../../docs/security.md"), "utf8");
  const start = doc.indexOf("<!-- permission-table:begin -->");
  const end = doc.indexOf("<!-- permission-table:end -->");
  expect(start, "docs/security.md has the permission-table markers").toBeGreaterThan(0);
  expect(doc.slice(start + "<!-- permission-table:begin -->".length, end).trim(), "regenerate with `npm run docs:permissions`").toBe(permissionTableMarkdown().trim());
});

describe("cloud node principal names", () => {
  it("name the sorted roles, and stay within 64 characters for a node with every role", () => {
    expect(rolesPrincipalName(["ingest", "api"])).toBe("node-api-ingest");
    const all = rolesPrincipalName(cloudRoles);
    expect(all.length).toBeLessThanOrEqual(principalNameBytesMax);
    expect(all).toMatch(/^node-[a-z-]+$/);
    // Distinct role sets keep distinct names (they get different permissions).
    const names = new Set(cloudRoles.map((r) => rolesPrincipalName(cloudRoles.filter((x) => x !== r))));
    expect(names.size).toBe(cloudRoles.length);
  });
});
