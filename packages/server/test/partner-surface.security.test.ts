import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { listAnomalies, openDatabase } from "@propgate/consent-audit";
import { SignJWT } from "jose";
import { PARTNER_SURFACE_AUDIENCE, PARTNER_SURFACE_ISSUER } from "../src/partner-surface/tokens.ts";
import {
  type Answer,
  CLIENTS,
  expectSurfaceError,
  OTHER_VPN_PEER,
  OUTSIDER,
  PEER,
  type SurfaceRig,
  startSurfaceRig,
} from "./partner-surface-rig.ts";

/**
 * Who may use the partner surface: the peer-address allow-list, bearer tokens and their scopes,
 * blocks and the per-client limit, and what every request leaves in the log.
 */

let rig: SurfaceRig;
beforeAll(async () => {
  rig = await startSurfaceRig();
});
afterAll(() => rig?.close());

const CHECK = { subject: "a".repeat(43), deviceId: "ic-a1", method: "key" };
const event = () => ({ type: "device.online", deviceId: "ic-a1", at: new Date().toISOString() });

/** A token as the surface issues them to the intercom client, signed with `key`. */
function signedToken(key: CryptoKey | KeyObject, expiresAt: string | number) {
  return new SignJWT({
    client_id: CLIENTS.intercom.clientId,
    partner: "intercom",
    scope: "access.check events.write",
  })
    .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt" })
    .setIssuer(PARTNER_SURFACE_ISSUER)
    .setAudience(PARTNER_SURFACE_AUDIENCE)
    .setSubject(CLIENTS.intercom.clientId)
    .setIssuedAt(typeof expiresAt === "number" ? expiresAt - 120 : undefined)
    .setJti("ptk_made_here")
    .setExpirationTime(expiresAt)
    .sign(key);
}

describe("tokens and scopes on the partner endpoints", () => {
  test("no token, a garbage token or a forged one: 401 in the one error shape", async () => {
    const forged = await signedToken(
      (await crypto.subtle.generateKey("Ed25519", true, ["sign"])).privateKey,
      "2m",
    );
    for (const token of [null, "garbage", forged]) {
      const answer = await rig.postJson("/partner/v1/access-checks", token, CHECK);
      expectSurfaceError(answer, 401, "UNAUTHORIZED");
      expect(answer.headers.get("www-authenticate")).toContain("Bearer");
    }
  });

  test("a token is good only until it expires, from its client's address, while the client is registered", async () => {
    // Surfaces sharing a signing key, as instances with one PARTNER_TOKEN_KEY_FILE do.
    const signingKey = { key: generateKeyPairSync("ed25519").privateKey, alg: "EdDSA" as const };
    const issuing = rig.surface({ signingKey });
    const token = await issuing.tokenFor(CLIENTS.intercom);
    // Expired a minute ago: past the 5 s the surface allows for clocks that differ.
    const expired = await signedToken(signingKey.key, Math.floor(Date.now() / 1000) - 60);
    const late = await issuing.postJson("/partner/v1/events", expired, event());
    expectSurfaceError(late, 401, "UNAUTHORIZED", "the token has expired");
    expect(late.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const withoutIt = rig.surface({
      signingKey,
      clients: rig.settings.clients.filter((c) => c.clientId !== CLIENTS.intercom.clientId),
    });
    for (const answer of [
      await issuing.postJson("/partner/v1/events", token, event(), OTHER_VPN_PEER),
      await withoutIt.postJson("/partner/v1/events", token, event()),
    ]) {
      expectSurfaceError(answer, 401, "UNAUTHORIZED");
      expect(answer.json).toMatchObject({ error: { message: "the client is not registered" } });
      expect(answer.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
    expect((await issuing.postJson("/partner/v1/events", token, event())).status).toBe(202);
  });

  test("a client reaches only the endpoints of its scopes", async () => {
    const eventsToken = await rig.tokenFor(CLIENTS.eventsOnly);
    const refused = await rig.postJson("/partner/v1/access-checks", eventsToken, CHECK);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { code: "INSUFFICIENT_SCOPE" } });
    expect(refused.headers.get("www-authenticate")).toContain('scope="access.check"');
    expect((await rig.postJson("/partner/v1/events", eventsToken, event())).status).toBe(202);

    // A token asked for with a narrower scope carries only that scope.
    const checkOnly = await rig.tokenFor(CLIENTS.intercom, "access.check");
    const narrowed = await rig.postJson("/partner/v1/events", checkOnly, event());
    expectSurfaceError(narrowed, 403, "INSUFFICIENT_SCOPE");
  });
});

describe("the peer-address allow-list", () => {
  test("outside the allowed CIDRs: 403 in the one shape, logged and counted; X-Forwarded-For is ignored", async () => {
    const refusedBefore = await rig.metric("propgate_partner_surface_refused_total", {
      reason: "outside_allowlist",
    });
    const token = await rig.tokenFor(CLIENTS.intercom);
    // Headers that would name an allowed address, were they read.
    const spoofing = { "x-forwarded-for": PEER, "x-real-ip": PEER, forwarded: `for=${PEER}` };
    const tokenAttempt = await rig.tokenRequest(CLIENTS.intercom, {}, OUTSIDER, spoofing);
    const checkAttempt = await rig.postJson(
      "/partner/v1/access-checks",
      token,
      CHECK,
      OUTSIDER,
      spoofing,
    );
    // No peer address at all (a server that did not hand one in) is outside too.
    const unknownPeer = await rig.postJson("/partner/v1/events", token, event(), null);
    for (const answer of [tokenAttempt, checkAttempt, unknownPeer])
      expectSurfaceError(answer, 403, "FORBIDDEN", "this address may not use the partner surface");
    expect(
      (await rig.metric("propgate_partner_surface_refused_total", {
        reason: "outside_allowlist",
      })) - refusedBefore,
    ).toBe(3);
    // Also an anomaly: one per address and window (recorded, never a block: a NAT may hide many).
    await rig.deps.watch.settle();
    const [outside] = await listAnomalies(rig.database.db, {
      kind: "outside_vpn",
      subjectId: OUTSIDER,
    });
    expect(outside).toMatchObject({ subjectType: "ip", subjectId: OUTSIDER, blockId: null });
    // One per address: the outsider's and the unknown peer's.
    expect(await rig.metric("propgate_anomalies_total", { kind: "outside_vpn" })).toBe(2);

    const line = rig.logs.find(
      (entry) => entry.requestId === tokenAttempt.headers.get("x-request-id"),
    );
    expect(line).toMatchObject({
      level: "warn",
      msg: "partner request refused",
      surface: "partner",
      ip: OUTSIDER,
      type: "oauth.token",
      status: 403,
      refused: "outside_allowlist",
    });
    expect(typeof line?.time).toBe("string");
  });

  test("every request gets exactly one log line with ip, time and type — and no secret or token", async () => {
    const token = await rig.tokenFor(CLIENTS.intercom);
    const check = await rig.postJson("/partner/v1/access-checks", token, {
      ...CHECK,
      subject: "b".repeat(43),
    });
    const requestId = check.headers.get("x-request-id");
    const lines = rig.logs.filter((entry) => entry.requestId === requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "partner request",
      ip: PEER,
      type: "access_check",
      method: "POST",
      status: 200,
      clientId: CLIENTS.intercom.clientId,
      partner: "intercom",
    });
    expect(Date.parse(String(lines[0]?.time))).toBeGreaterThan(0);
    const text = rig.logs.map((entry) => JSON.stringify(entry)).join("\n");
    for (const secret of [CLIENTS.intercom.secret, CLIENTS.barrier.secret, token]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe("rate limit per partner client", () => {
  test("over the client's quota: 429 with Retry-After and RateLimit fields; other clients go on", async () => {
    const limited = rig.surface({}, { rateLimits: rig.rateLimits({ partner_client: 2 }) });
    const eventsToken = await limited.tokenFor(CLIENTS.eventsOnly);
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 3; i++) {
      last = await limited.postJson("/partner/v1/events", eventsToken, event());
      statuses.push(last.status);
    }
    expect(statuses).toEqual([202, 202, 429]);
    expect(Number(last?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(last?.headers.get("ratelimit-policy")).toContain("partner_client");
    expect(last?.json).toMatchObject({
      error: { code: "RATE_LIMITED", requestId: last?.headers.get("x-request-id") },
    });
    const other = await limited.postJson(
      "/partner/v1/events",
      await limited.tokenFor(CLIENTS.intercom),
      event(),
    );
    expect(other.status).toBe(202);
  });
});

describe("a blocked partner client", () => {
  test("403 BLOCKED with Retry-After on checks and events, before its limit is counted; others go on", async () => {
    const limited = rig.surface({}, { rateLimits: rig.rateLimits({ partner_client: 1 }) });
    const token = await limited.tokenFor(CLIENTS.barrier);
    await rig.block("partner_client", CLIENTS.barrier.clientId, "mass_access_checks");
    const answers = [
      await limited.postJson("/partner/v1/access-checks", token, { ...CHECK, deviceId: "bar-a" }),
      await limited.postJson("/partner/v1/events", token, { ...event(), deviceId: "bar-a" }),
      await limited.postJson("/partner/v1/events", token, { ...event(), deviceId: "bar-a" }),
    ];
    for (const answer of answers) {
      expectSurfaceError(answer, 403, "BLOCKED");
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(800);
    }
    // Its token requests are refused too; another client goes on.
    expect((await limited.tokenRequest(CLIENTS.barrier)).json).toMatchObject({
      error: { code: "BLOCKED" },
    });
    const intercom = await limited.tokenFor(CLIENTS.intercom);
    expect((await limited.postJson("/partner/v1/events", intercom, event())).status).toBe(202);
  });
});

describe("an error of ours", () => {
  test("500 INTERNAL in the one shape, its cause logged but never told", async () => {
    // A surface whose database is down (nothing listens there): an access check reads a device.
    const down = await openDatabase({ url: "postgres://propgate@127.0.0.1:1/propgate" });
    const broken = rig.surface({}, { database: down });
    const answer = await broken.postJson(
      "/partner/v1/access-checks",
      await broken.tokenFor(CLIENTS.intercom),
      CHECK,
    );
    await down.close();
    expectSurfaceError(answer, 500, "INTERNAL", "internal error");
    const line = rig.logs.find(
      (entry) =>
        entry.requestId === answer.headers.get("x-request-id") &&
        entry.msg === "partner surface request failed",
    );
    expect(line).toMatchObject({ level: "error", err: expect.any(Object) });
  });
});
