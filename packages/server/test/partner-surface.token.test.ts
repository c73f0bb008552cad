import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { parseCidrList } from "../src/net/cidr.ts";
import { PARTNER_SURFACE_AUDIENCE, PARTNER_SURFACE_ISSUER } from "../src/partner-surface/tokens.ts";
import {
  type Answer,
  basic,
  CLIENTS,
  expectSurfaceError,
  FORM,
  OTHER_VPN_PEER,
  PEER,
  type SurfaceRig,
  startSurfaceRig,
  type TestClient,
} from "./partner-surface-rig.ts";

/** `POST /oauth/token`: OAuth 2.0 client credentials, and each of its refusals. */

let rig: SurfaceRig;
beforeAll(async () => {
  rig = await startSurfaceRig();
});
afterAll(() => rig?.close());

/** A token request with `body` as the form, authenticated with Basic unless `client` is null. */
function formRequest(body: string, client: TestClient | null = CLIENTS.intercom) {
  return rig.send("/oauth/token", {
    headers: { ...FORM, ...(client ? { authorization: basic(client) } : {}) },
    body,
  });
}

/** A refusal in RFC 6749 §5.2's shape, never cached. */
function expectOAuthError(answer: Answer, status: number, error: string) {
  expect({ status: answer.status, error: answer.json.error }).toEqual({ status, error });
  expect(answer.headers.get("cache-control")).toBe("no-store");
}

describe("POST /oauth/token", () => {
  test("client_secret_basic: a short-lived RFC 9068 JWT for the client's partner and scopes", async () => {
    const answer = await rig.tokenRequest(CLIENTS.intercom);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(answer.json).toMatchObject({
      token_type: "Bearer",
      expires_in: 120,
      scope: "access.check events.write",
    });
    const token = String(answer.json.access_token);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "EdDSA", typ: "at+jwt" });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: PARTNER_SURFACE_ISSUER,
      aud: PARTNER_SURFACE_AUDIENCE,
      sub: CLIENTS.intercom.clientId,
      client_id: CLIENTS.intercom.clientId,
      partner: "intercom",
      scope: "access.check events.write",
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(120);
    expect(claims.jti).toMatch(/^ptk_/);
  });

  test("client_secret_post works too (bcrypt hash), and a narrower scope can be asked for", async () => {
    const answer = await formRequest(
      new URLSearchParams({
        grant_type: "client_credentials",
        client_id: CLIENTS.barrier.clientId,
        client_secret: CLIENTS.barrier.secret,
        scope: "access.check",
      }).toString(),
      null,
    );
    expect(answer.status).toBe(200);
    expect(answer.json.scope).toBe("access.check");
    expect(decodeJwt(String(answer.json.access_token))).toMatchObject({
      partner: "barrier",
      scope: "access.check",
    });
  });

  test("wrong secret, unknown client and a client from another peer are the same invalid_client, with no-store", async () => {
    const attempts: Array<[TestClient, string]> = [
      [{ clientId: CLIENTS.intercom.clientId, secret: "not-the-secret" }, PEER],
      [{ clientId: "nobody-here", secret: CLIENTS.intercom.secret }, PEER],
      // Client ids are no secret: from any address but its own, a registered id is unknown.
      [CLIENTS.intercom, OTHER_VPN_PEER],
    ];
    for (const [client, peer] of attempts) {
      const answer = await rig.tokenRequest(client, {}, peer);
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({
        error: "invalid_client",
        error_description: "client authentication failed",
      });
      expect(answer.headers.get("www-authenticate")).toContain("Basic");
      expect(answer.headers.get("cache-control")).toBe("no-store");
    }
    const noCredentials = await formRequest("grant_type=client_credentials", null);
    expect(noCredentials.status).toBe(401);
    expect(noCredentials.json.error).toBe("invalid_client");
    const malformed = await rig.send("/oauth/token", {
      headers: { ...FORM, authorization: "Basic bm8tY29sb24=" },
      body: "grant_type=client_credentials",
    });
    expectOAuthError(malformed, 401, "invalid_client");
    // Failed sign-ins are logged with the peer and the id tried, never the secret tried.
    const failures = rig.logs.filter((line) => line.msg === "partner client authentication failed");
    expect(failures.map((line) => [line.ip, line.clientId])).toContainEqual([
      OTHER_VPN_PEER,
      CLIENTS.intercom.clientId,
    ]);
    expect(JSON.stringify(rig.logs)).not.toContain(CLIENTS.intercom.secret);
  });

  test("grant types, scopes and request shapes outside the protocol get their OAuth error", async () => {
    const refusals: Array<[() => Promise<Answer>, number, string]> = [
      [
        () => rig.tokenRequest(CLIENTS.intercom, { grant_type: "password" }),
        400,
        "unsupported_grant_type",
      ],
      [() => formRequest("scope=access.check"), 400, "invalid_request"],
      [() => rig.tokenRequest(CLIENTS.eventsOnly, { scope: "access.check" }), 400, "invalid_scope"],
      [() => rig.tokenRequest(CLIENTS.intercom, { scope: "intercom.open" }), 400, "invalid_scope"],
      [
        () => rig.tokenRequest(CLIENTS.intercom, { scope: "access.check  events.write" }),
        400,
        "invalid_scope",
      ],
      [
        () =>
          rig.send("/oauth/token", {
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ grant_type: "client_credentials" }),
          }),
        400,
        "invalid_request",
      ],
      [
        () =>
          formRequest(
            new URLSearchParams({
              grant_type: "client_credentials",
              client_id: CLIENTS.intercom.clientId,
              client_secret: CLIENTS.intercom.secret,
            }).toString(),
          ),
        400,
        "invalid_request",
      ],
      [
        () => rig.tokenRequest(CLIENTS.intercom, { client_id: CLIENTS.barrier.clientId }),
        400,
        "invalid_request",
      ],
      [
        () => formRequest("grant_type=client_credentials&grant_type=client_credentials"),
        400,
        "invalid_request",
      ],
      [
        () => formRequest(`grant_type=client_credentials&pad=${"x".repeat(20_000)}`),
        400,
        "invalid_request",
      ],
    ];
    for (const [request, status, error] of refusals)
      expectOAuthError(await request(), status, error);
    const sameId = await rig.tokenRequest(CLIENTS.intercom, {
      client_id: CLIENTS.intercom.clientId,
    });
    expect(sameId.status).toBe(200);
  });
});

describe("POST /oauth/token under load and abuse (invariant 7)", () => {
  function expectSlowDown(answer: Answer, limit: string) {
    expectOAuthError(answer, 429, "slow_down");
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(answer.headers.get("ratelimit-policy")).toContain(`"${limit}";q=`);
    expect(answer.headers.get("ratelimit")).toContain(`"${limit}";r=0;t=`);
  }
  const verifications = () => rig.metric("propgate_partner_token_verifications_total");

  test("past the per-peer or the per-client-id limit: 429 slow_down, before any secret is checked", async () => {
    const perPeer = rig.surface({}, { rateLimits: rig.rateLimits({ partner_token_peer: 2 }) });
    const perClient = rig.surface({}, { rateLimits: rig.rateLimits({ partner_token_client: 2 }) });
    const checkedBefore = await verifications();
    for (const limited of [perPeer, perClient]) {
      const granted = [
        await limited.tokenRequest(CLIENTS.intercom),
        await limited.tokenRequest(CLIENTS.intercom),
      ];
      expect(granted.map((answer) => answer.status)).toEqual([200, 200]);
      expect(granted[0]?.headers.get("ratelimit-policy")).toBe(
        limited === perPeer
          ? '"partner_token_peer";q=2;w=60, "partner_token_client";q=100000;w=60'
          : '"partner_token_peer";q=100000;w=60, "partner_token_client";q=2;w=60',
      );
    }
    // Over the peer's limit, every id from that address is refused, a guess as the right secret.
    expectSlowDown(await perPeer.tokenRequest(CLIENTS.barrier), "partner_token_peer");
    expectSlowDown(
      await perPeer.tokenRequest({ clientId: "nobody-here", secret: "guess" }),
      "partner_token_peer",
    );
    // Over the client id's, that id is refused; another client from the same peer goes on.
    expectSlowDown(await perClient.tokenRequest(CLIENTS.intercom), "partner_token_client");
    expect((await perClient.tokenRequest(CLIENTS.barrier)).status).toBe(200);
    expect((await verifications()) - checkedBefore).toBe(5);
  });

  test("every verification slot and its queue taken: 503 temporarily_unavailable with Retry-After, unchecked", async () => {
    // Costlier than the others (tens of ms), so that the requests surely overlap.
    const slow = { clientId: "ic-slow", secret: `slow-${crypto.randomUUID()}` };
    const busy = rig.surface({
      maxConcurrentVerifications: 1,
      verificationQueue: 1,
      clients: [
        {
          clientId: slow.clientId,
          secretHash: await Bun.password.hash(slow.secret, {
            algorithm: "argon2id",
            memoryCost: 19_456,
            timeCost: 2,
          }),
          partner: "intercom",
          scopes: ["access.check"],
          addresses: parseCidrList(`${PEER}/32`),
        },
      ],
    });
    const busyBefore = await rig.metric("propgate_partner_surface_refused_total", {
      reason: "verifications_busy",
    });
    const checkedBefore = await verifications();
    const answers = await Promise.all(Array.from({ length: 6 }, () => busy.tokenRequest(slow)));
    const granted = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 503);
    expect(granted.length + refused.length).toBe(6);
    expect(granted.length).toBeGreaterThanOrEqual(2); // the one checking and the one waiting
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expectOAuthError(answer, 503, "temporarily_unavailable");
      expect([answer.json.error_description, answer.headers.get("retry-after")]).toEqual([
        "too many token requests are being checked, try again in 1 s",
        "1",
      ]);
    }
    expect((await verifications()) - checkedBefore).toBe(granted.length);
    expect(
      (await rig.metric("propgate_partner_surface_refused_total", {
        reason: "verifications_busy",
      })) - busyBefore,
    ).toBe(refused.length);
  });

  test("a blocked peer: 403 BLOCKED in the surface's shape with Retry-After, its secret never checked", async () => {
    const blockedPeer = "10.80.0.66";
    await rig.block("ip", blockedPeer, "partner_credential_guessing");
    const checkedBefore = await verifications();
    const answer = await rig.tokenRequest(CLIENTS.intercom, {}, blockedPeer);
    expectSurfaceError(
      answer,
      403,
      "BLOCKED",
      "blocked for a while after unusual activity; try again later",
    );
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(800);
    expect(await verifications()).toBe(checkedBefore);
    // The block is the peer's, not the client's: from its own address the client is served.
    expect((await rig.tokenRequest(CLIENTS.intercom)).status).toBe(200);
  });
});
