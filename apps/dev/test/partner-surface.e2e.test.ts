import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRateLimits, type LimitName } from "@propgate/api";
import {
  type AuditEvent,
  listAnomalies,
  listAuditEvents,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { AUDIT_KINDS } from "@propgate/domain";
import { subjectFor } from "@propgate/partner-client";
import type { PartnerSurfaceConfig } from "@propgate/server";
import {
  PARTNER_SURFACE_AUDIENCE,
  PARTNER_SURFACE_ISSUER,
  parseCidrList,
  type RunningPartnerSurface,
  servePartnerSurface,
} from "@propgate/server";
import { sql } from "drizzle-orm";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import {
  errorOf,
  grant,
  type Resident,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

const TIMEOUT_MS = 5000;

/** Cheap argon2id parameters: the tests hash and verify often; production uses the defaults. */
const hash = (secret: string) =>
  Bun.password.hash(secret, { algorithm: "argon2id", memoryCost: 4096, timeCost: 1 });

const CLIENTS = {
  intercom: { clientId: "ic-gateway", secret: `ic-secret-${crypto.randomUUID()}` },
  barrier: { clientId: "br-gateway", secret: `br-secret-${crypto.randomUUID()}` },
  eventsOnly: { clientId: "ic-events", secret: `ev-secret-${crypto.randomUUID()}` },
};

let dir: string;
let stack: TestStack;
let surface: RunningPartnerSurface;
/** A second surface that admits only 10.99.0.0/24: a loopback client is outside it. */
let vpnOnly: RunningPartnerSurface;
let config: PartnerSurfaceConfig;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propgate-partner-surface-"));
  const clientsFile = join(dir, "partner-clients.json");
  writeFileSync(
    clientsFile,
    JSON.stringify([
      {
        clientId: CLIENTS.intercom.clientId,
        secretHash: await hash(CLIENTS.intercom.secret),
        partner: "intercom",
        scopes: ["access.check", "events.write"],
        addresses: ["127.0.0.1"],
      },
      {
        clientId: CLIENTS.barrier.clientId,
        secretHash: await Bun.password.hash(CLIENTS.barrier.secret, {
          algorithm: "bcrypt",
          cost: 4,
        }),
        partner: "barrier",
        scopes: ["access.check", "events.write"],
        addresses: ["127.0.0.1"],
      },
      {
        clientId: CLIENTS.eventsOnly.clientId,
        secretHash: await hash(CLIENTS.eventsOnly.secret),
        partner: "intercom",
        scopes: ["events.write"],
        addresses: ["127.0.0.1"],
      },
    ]),
    { mode: 0o600 },
  );
  stack = await startTestStack({
    env: {
      PARTNER_LISTEN: "127.0.0.1:0",
      PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
      PARTNER_CLIENTS_FILE: clientsFile,
      PARTNER_TOKEN_TTL_SECONDS: "120",
      // The token endpoint's own limits have their own tests (partner-token-limits.e2e.test.ts).
      RATE_LIMIT_PARTNER_TOKEN_PER_CLIENT_PER_MINUTE: "10000",
      RATE_LIMIT_PARTNER_TOKEN_PER_PEER_PER_MINUTE: "10000",
    },
  });
  if (!stack.partnerSurface) throw new Error("the stack started without its partner surface");
  surface = stack.partnerSurface;
  const loaded = (await import("@propgate/server")).loadApiEnv(stack.env).partnerSurface;
  if (!loaded) throw new Error("no partner surface config");
  config = loaded;
  vpnOnly = servePartnerSurface(stack.deps, {
    ...config,
    allowedCidrs: parseCidrList("10.99.0.0/24"),
    listen: { hostname: "127.0.0.1", port: 0 },
  });
});

afterAll(async () => {
  await vpnOnly?.stop();
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? "POST",
    headers: init.headers,
    body: init.body,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : {} };
}

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

function tokenRequest(
  client: { clientId: string; secret: string },
  extra: Record<string, string> = {},
  base = surface.url,
) {
  return call(base, "/oauth/token", {
    headers: { ...FORM, authorization: basic(client.clientId, client.secret) },
    body: new URLSearchParams({ grant_type: "client_credentials", ...extra }).toString(),
  });
}

async function tokenFor(client: { clientId: string; secret: string }, scope?: string) {
  const answer = await tokenRequest(client, scope ? { scope } : {});
  expect(answer.status).toBe(200);
  return String(answer.json.access_token);
}

function postJson(path: string, token: string | null, body: unknown, base = surface.url) {
  return call(base, path, {
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function accessCheck(token: string, body: { subject: string; deviceId: string; method: string }) {
  return postJson("/partner/v1/access-checks", token, body);
}

/** What the api sends a partner for this resident (and what the partner asks about). */
function subjectAt(partner: "intercom" | "barrier", resident: Resident): string {
  return subjectFor(resident.userId, stack.deps.partners[partner].subjectKey);
}

async function grantPurpose(resident: Resident, purpose: "faces" | "plates") {
  const consents = await resident.trpc.consent.list.query();
  const current = consents.find((consent) => consent.purpose === purpose);
  await resident.trpc.consent.grant.mutate({
    purpose,
    noticeVersion: current?.currentNoticeVersion ?? 1,
  });
}

async function auditRowFor(requestId: string): Promise<AuditEvent | undefined> {
  const rows = await listAuditEvents(stack.database.db, { limit: 500 });
  return rows.find((row) => row.requestId === requestId);
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const line = text
    .split("\n")
    .find(
      (row) =>
        row.startsWith(`${name}{`) &&
        Object.entries(labels).every(([key, value]) => row.includes(`${key}="${value}"`)),
    );
  return line ? Number(line.split(" ").pop()) : 0;
}

const metrics = () => stack.deps.metrics.registry.metrics();

describe("POST /oauth/token", () => {
  test("client_secret_basic: a short-lived RFC 9068 JWT for the client's partner and scopes", async () => {
    const answer = await tokenRequest(CLIENTS.intercom);
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
    const answer = await call(surface.url, "/oauth/token", {
      headers: FORM,
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: CLIENTS.barrier.clientId,
        client_secret: CLIENTS.barrier.secret,
        scope: "access.check",
      }).toString(),
    });
    expect(answer.status).toBe(200);
    expect(answer.json.scope).toBe("access.check");
    expect(decodeJwt(String(answer.json.access_token))).toMatchObject({
      partner: "barrier",
      scope: "access.check",
    });
  });

  test("wrong secret and unknown client are the same invalid_client, with no-store", async () => {
    for (const client of [
      { clientId: CLIENTS.intercom.clientId, secret: "not-the-secret" },
      { clientId: "nobody-here", secret: CLIENTS.intercom.secret },
    ]) {
      const answer = await tokenRequest(client);
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({
        error: "invalid_client",
        error_description: "client authentication failed",
      });
      expect(answer.headers.get("www-authenticate")).toContain("Basic");
      expect(answer.headers.get("cache-control")).toBe("no-store");
    }
    const noCredentials = await call(surface.url, "/oauth/token", {
      headers: FORM,
      body: "grant_type=client_credentials",
    });
    expect(noCredentials.status).toBe(401);
    expect(noCredentials.json.error).toBe("invalid_client");
  });

  test("grant types, scopes and request shapes outside the protocol get their OAuth error", async () => {
    expect((await tokenRequest(CLIENTS.intercom, { grant_type: "password" })).json.error).toBe(
      "unsupported_grant_type",
    );
    const missingGrant = await call(surface.url, "/oauth/token", {
      headers: {
        ...FORM,
        authorization: basic(CLIENTS.intercom.clientId, CLIENTS.intercom.secret),
      },
      body: "scope=access.check",
    });
    expect([missingGrant.status, missingGrant.json.error]).toEqual([400, "invalid_request"]);
    const notGranted = await tokenRequest(CLIENTS.eventsOnly, { scope: "access.check" });
    expect([notGranted.status, notGranted.json.error]).toEqual([400, "invalid_scope"]);
    const unknownScope = await tokenRequest(CLIENTS.intercom, { scope: "intercom.open" });
    expect([unknownScope.status, unknownScope.json.error]).toEqual([400, "invalid_scope"]);
    const json = await call(surface.url, "/oauth/token", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    });
    expect([json.status, json.json.error]).toEqual([400, "invalid_request"]);
    const both = await call(surface.url, "/oauth/token", {
      headers: {
        ...FORM,
        authorization: basic(CLIENTS.intercom.clientId, CLIENTS.intercom.secret),
      },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: CLIENTS.intercom.clientId,
        client_secret: CLIENTS.intercom.secret,
      }).toString(),
    });
    expect([both.status, both.json.error]).toEqual([400, "invalid_request"]);
    const otherId = await tokenRequest(CLIENTS.intercom, { client_id: CLIENTS.barrier.clientId });
    expect([otherId.status, otherId.json.error]).toEqual([400, "invalid_request"]);
    const sameId = await tokenRequest(CLIENTS.intercom, { client_id: CLIENTS.intercom.clientId });
    expect(sameId.status).toBe(200);
    const repeated = await call(surface.url, "/oauth/token", {
      headers: {
        ...FORM,
        authorization: basic(CLIENTS.intercom.clientId, CLIENTS.intercom.secret),
      },
      body: "grant_type=client_credentials&grant_type=client_credentials",
    });
    expect([repeated.status, repeated.json.error]).toEqual([400, "invalid_request"]);
  });
});

describe("tokens and scopes on the partner endpoints", () => {
  test("no token, a garbage token or a forged one: 401 in the one error shape", async () => {
    const body = { subject: "a".repeat(43), deviceId: "ic-a1", method: "key" };
    const forged = await new SignJWT({
      client_id: CLIENTS.intercom.clientId,
      partner: "intercom",
      scope: "access.check",
    })
      .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt" })
      .setIssuer(PARTNER_SURFACE_ISSUER)
      .setAudience(PARTNER_SURFACE_AUDIENCE)
      .setSubject(CLIENTS.intercom.clientId)
      .setIssuedAt()
      .setJti("ptk_forged")
      .setExpirationTime("2m")
      .sign((await crypto.subtle.generateKey("Ed25519", true, ["sign"])).privateKey);
    for (const token of [null, "garbage", forged]) {
      const answer = await postJson("/partner/v1/access-checks", token, body);
      expect(answer.status).toBe(401);
      expect(answer.json).toMatchObject({
        error: { code: "UNAUTHORIZED", requestId: answer.headers.get("x-request-id") },
      });
      expect(answer.headers.get("www-authenticate")).toContain("Bearer");
    }
  });

  test("a client reaches only the endpoints of its scopes", async () => {
    const eventsToken = await tokenFor(CLIENTS.eventsOnly);
    const refused = await accessCheck(eventsToken, {
      subject: "a".repeat(43),
      deviceId: "ic-a1",
      method: "key",
    });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { code: "INSUFFICIENT_SCOPE" } });
    expect(refused.headers.get("www-authenticate")).toContain('scope="access.check"');
    const event = await postJson("/partner/v1/events", eventsToken, {
      type: "device.online",
      deviceId: "ic-a1",
      at: new Date().toISOString(),
    });
    expect(event.status).toBe(202);

    // A token asked for with a narrower scope carries only that scope.
    const checkOnly = await tokenFor(CLIENTS.intercom, "access.check");
    const narrowed = await postJson("/partner/v1/events", checkOnly, {
      type: "device.online",
      deviceId: "ic-a1",
      at: new Date().toISOString(),
    });
    expect(narrowed.status).toBe(403);
  });
});

describe("POST /partner/v1/access-checks", () => {
  test("the allow/deny matrix: device, site, kind, method, consent, unknowns", async () => {
    const resident = await stack.resident(`user-access-${crypto.randomUUID()}`, ["site-a"]);
    await grant(resident, ["intercom", "barrier"]);
    // The api sends the subject to each partner once; from then on the partner may ask about it.
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await resident.trpc.barrier.open.mutate({ deviceId: "gate-a" });
    const intercom = await tokenFor(CLIENTS.intercom);
    const barrier = await tokenFor(CLIENTS.barrier);
    const atIntercom = subjectAt("intercom", resident);
    const atBarrier = subjectAt("barrier", resident);

    const expectAnswer = async (
      token: string,
      body: { subject: string; deviceId: string; method: string },
      expected: { decision: "allow" } | { decision: "deny"; reason: string },
    ) => {
      const answer = await accessCheck(token, body);
      expect({ body, status: answer.status, json: answer.json }).toEqual({
        body,
        status: 200,
        json: expected,
      });
    };
    const allow = { decision: "allow" } as const;
    const deny = (reason: string) => ({ decision: "deny", reason }) as const;

    await expectAnswer(intercom, { subject: atIntercom, deviceId: "ic-a1", method: "key" }, allow);
    await expectAnswer(intercom, { subject: atIntercom, deviceId: "ic-a2", method: "key" }, allow);
    await expectAnswer(
      intercom,
      { subject: atIntercom, deviceId: "ic-b1", method: "key" },
      deny("site_not_allowed"),
    );
    await expectAnswer(
      intercom,
      { subject: atIntercom, deviceId: "cam-a1", method: "key" },
      deny("not_a_passage"),
    );
    await expectAnswer(
      intercom,
      { subject: atIntercom, deviceId: "ic-zz", method: "key" },
      deny("unknown_device"),
    );
    // The barrier's device is not the intercom's to ask about, and subjects differ per partner.
    await expectAnswer(
      intercom,
      { subject: atIntercom, deviceId: "bar-a", method: "key" },
      deny("unknown_device"),
    );
    await expectAnswer(
      intercom,
      { subject: atBarrier, deviceId: "ic-a1", method: "key" },
      deny("unknown_subject"),
    );
    await expectAnswer(
      intercom,
      {
        subject: subjectFor("someone-never-seen", stack.deps.partners.intercom.subjectKey),
        deviceId: "ic-a1",
        method: "key",
      },
      deny("unknown_subject"),
    );
    // Faces need the faces consent too; plates are not an intercom method.
    await expectAnswer(
      intercom,
      { subject: atIntercom, deviceId: "ic-a1", method: "face" },
      deny("consent_required"),
    );
    await grantPurpose(resident, "faces");
    await expectAnswer(intercom, { subject: atIntercom, deviceId: "ic-a1", method: "face" }, allow);
    await expectAnswer(
      intercom,
      { subject: atIntercom, deviceId: "ic-a1", method: "plate" },
      deny("method_not_supported"),
    );

    await expectAnswer(barrier, { subject: atBarrier, deviceId: "bar-a", method: "key" }, allow);
    await expectAnswer(
      barrier,
      { subject: atBarrier, deviceId: "bar-a", method: "plate" },
      deny("consent_required"),
    );
    await grantPurpose(resident, "plates");
    await expectAnswer(barrier, { subject: atBarrier, deviceId: "bar-a", method: "plate" }, allow);
    await expectAnswer(
      barrier,
      { subject: atBarrier, deviceId: "bar-a", method: "face" },
      deny("method_not_supported"),
    );
    await expectAnswer(
      barrier,
      { subject: atBarrier, deviceId: "bar-b", method: "key" },
      deny("site_not_allowed"),
    );

    // Revoking the purpose turns the next answer into a deny at once.
    await resident.trpc.consent.revoke.mutate({ purpose: "intercom" });
    await expectAnswer(
      intercom,
      { subject: atIntercom, deviceId: "ic-a1", method: "key" },
      deny("consent_required"),
    );
    await expectAnswer(barrier, { subject: atBarrier, deviceId: "bar-a", method: "key" }, allow);
  });

  test("the sites recorded are those of the resident's latest call to that partner", async () => {
    const userId = `user-moves-${crypto.randomUUID()}`;
    const before = await stack.resident(userId, ["site-a"]);
    await grant(before, ["intercom"]);
    await before.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const token = await tokenFor(CLIENTS.intercom);
    const subject = subjectAt("intercom", before);
    const atB = () => accessCheck(token, { subject, deviceId: "ic-b1", method: "key" });
    expect((await atB()).json).toEqual({ decision: "deny", reason: "site_not_allowed" });
    const after = await stack.resident(userId, ["site-a", "site-b"]);
    await after.trpc.intercom.openDoor.mutate({ deviceId: "door-b1" });
    expect((await atB()).json).toEqual({ decision: "allow" });
  });

  test("sites last confirmed longer ago than ACCESS_CHECK_SITES_MAX_AGE_SECONDS: stale_subject", async () => {
    const token = await tokenFor(CLIENTS.intercom);
    const seen = async (minutesAgo: number) => {
      const resident = await stack.resident(`user-seen-${crypto.randomUUID()}`, ["site-a"]);
      await grant(resident, ["intercom"]);
      await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
      // As if the resident's latest call had been this long ago (the default age is an hour).
      await stack.database.db.execute(
        sql`update partner_subjects set updated_at = now() - make_interval(mins => ${minutesAgo}) where user_id = ${resident.userId}`,
      );
      return accessCheck(token, {
        subject: subjectAt("intercom", resident),
        deviceId: "ic-a1",
        method: "key",
      });
    };
    expect((await seen(59)).json).toEqual({ decision: "allow" });
    const stale = await seen(61);
    expect(stale.json).toEqual({ decision: "deny", reason: "stale_subject" });
    expect(await auditRowFor(stale.headers.get("x-request-id") ?? "")).toMatchObject({
      kind: "partner.access_check",
      target: "door-a1",
      result: "deny",
      errorCode: "STALE_SUBJECT",
    });
  });

  test("any call of the resident confirms their sites anew at every partner, a site taken away gone", async () => {
    const userId = `user-confirms-${crypto.randomUUID()}`;
    const before = await stack.resident(userId, ["site-a", "site-b"]);
    await grant(before, ["intercom", "barrier"]);
    await before.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await before.trpc.barrier.open.mutate({ deviceId: "gate-a" });
    await stack.database.db.execute(
      sql`update partner_subjects set updated_at = now() - interval '2 hours' where user_id = ${userId}`,
    );
    const intercom = await tokenFor(CLIENTS.intercom);
    const barrier = await tokenFor(CLIENTS.barrier);
    const check = async (token: string, subject: string, deviceId: string) =>
      (await accessCheck(token, { subject, deviceId, method: "key" })).json;
    const atIntercom = subjectAt("intercom", before);
    const atBarrier = subjectAt("barrier", before);
    const stale = { decision: "deny", reason: "stale_subject" };
    expect(await check(intercom, atIntercom, "ic-a1")).toEqual(stale);
    expect(await check(barrier, atBarrier, "bar-a")).toEqual(stale);

    // Site b is gone from the token; the resident only reads their consents (no partner call).
    const after = await stack.resident(userId, ["site-a"]);
    await after.trpc.consent.list.query();
    const notAllowed = { decision: "deny", reason: "site_not_allowed" };
    expect(await check(intercom, atIntercom, "ic-a1")).toEqual({ decision: "allow" });
    expect(await check(intercom, atIntercom, "ic-b1")).toEqual(notAllowed);
    expect(await check(barrier, atBarrier, "bar-a")).toEqual({ decision: "allow" });
    expect(await check(barrier, atBarrier, "bar-b")).toEqual(notAllowed);
  });

  test("every check is audited and counted, with the opaque user id and never the subject", async () => {
    const resident = await stack.resident(`user-audited-${crypto.randomUUID()}`, ["site-a"]);
    await grant(resident, ["intercom"]);
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    const token = await tokenFor(CLIENTS.intercom);
    const subject = subjectAt("intercom", resident);
    const metricsBefore = await metrics();

    const allowed = await accessCheck(token, { subject, deviceId: "ic-a1", method: "key" });
    const denied = await accessCheck(token, { subject, deviceId: "ic-b1", method: "key" });
    const unknown = await accessCheck(token, { subject, deviceId: "ic-nope", method: "key" });

    const allowRow = await auditRowFor(allowed.headers.get("x-request-id") ?? "");
    expect(allowRow).toMatchObject({
      kind: "partner.access_check",
      operation: "access_check.key",
      partner: "intercom",
      target: "door-a1",
      userId: resident.userId,
      purpose: "intercom",
      result: "allow",
      errorCode: null,
      actor: `partner:${CLIENTS.intercom.clientId}`,
      clientIp: "127.0.0.1",
      sourceApp: "api",
    });
    expect(await auditRowFor(denied.headers.get("x-request-id") ?? "")).toMatchObject({
      kind: "partner.access_check",
      target: "door-b1",
      userId: resident.userId,
      result: "deny",
      errorCode: "SITE_NOT_ALLOWED",
    });
    expect(await auditRowFor(unknown.headers.get("x-request-id") ?? "")).toMatchObject({
      kind: "partner.access_check",
      target: "intercom/ic-nope",
      userId: null,
      result: "deny",
      errorCode: "UNKNOWN_DEVICE",
    });
    const rows = await listAuditEvents(stack.database.db, { limit: 500 });
    expect(JSON.stringify(rows)).not.toContain(subject);
    expect(await verifyAuditChain(stack.database.db)).toMatchObject({ ok: true });

    const metricsAfter = await metrics();
    const count = (text: string, decision: string) =>
      metricValue(text, "propgate_access_checks_total", { partner: "intercom", decision });
    expect(count(metricsAfter, "allow") - count(metricsBefore, "allow")).toBe(1);
    expect(count(metricsAfter, "deny") - count(metricsBefore, "deny")).toBe(2);
  });

  test("bodies are strict: anything off is a 400 naming the problem, never a 500", async () => {
    const token = await tokenFor(CLIENTS.intercom);
    const good = { subject: "a".repeat(43), deviceId: "ic-a1", method: "key" };
    const bad: unknown[] = [
      { ...good, extra: true },
      { subject: good.subject, deviceId: good.deviceId },
      { ...good, method: "retina" },
      { ...good, subject: "user-1" },
      { ...good, deviceId: "ic a1/../x" },
      [good],
      "null",
      "{not json",
      JSON.stringify({ ...good, deviceId: "x".repeat(20_000) }),
    ];
    for (const body of bad) {
      const answer = await postJson("/partner/v1/access-checks", token, body);
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(answer.json).toMatchObject({
        error: { code: "INVALID_INPUT", requestId: expect.stringMatching(/^req_/) },
      });
    }
    const wrongType = await call(surface.url, "/partner/v1/access-checks", {
      headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
      body: JSON.stringify(good),
    });
    expect(wrongType.status).toBe(400);
    const unknownRoute = await postJson("/partner/v1/doors/open", token, good);
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.json).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});

describe("POST /partner/v1/events", () => {
  test("an event is accepted (202) and audited as partner.event", async () => {
    const token = await tokenFor(CLIENTS.intercom);
    const at = new Date().toISOString();
    const known = await postJson("/partner/v1/events", token, {
      type: "door.opened",
      deviceId: "ic-a1",
      at,
    });
    expect(known.status).toBe(202);
    expect(known.json).toMatchObject({
      status: "accepted",
      eventId: expect.stringMatching(/^evt_/),
    });
    expect(await auditRowFor(known.headers.get("x-request-id") ?? "")).toMatchObject({
      id: known.json.eventId,
      kind: "partner.event",
      operation: "door.opened",
      partner: "intercom",
      target: "door-a1",
      result: "accepted",
      actor: `partner:${CLIENTS.intercom.clientId}`,
      clientIp: "127.0.0.1",
    });
    const unknown = await postJson("/partner/v1/events", token, {
      type: "device.offline",
      deviceId: "ic-gone",
      at,
    });
    expect(unknown.status).toBe(202);
    expect(await auditRowFor(unknown.headers.get("x-request-id") ?? "")).toMatchObject({
      kind: "partner.event",
      target: "intercom/ic-gone",
      result: "unknown_device",
    });
    const line = stack.logs.find(
      (entry) =>
        entry.requestId === known.headers.get("x-request-id") && entry.msg === "partner request",
    );
    expect(line).toMatchObject({ type: "event", event: "door.opened", reportedAt: at });
  });

  test("event bodies are strict", async () => {
    const token = await tokenFor(CLIENTS.intercom);
    const good = { type: "door.opened", deviceId: "ic-a1", at: new Date().toISOString() };
    for (const body of [
      { ...good, type: "door.exploded" },
      { ...good, at: "yesterday" },
      { ...good, subject: "a".repeat(43) },
      { type: good.type, deviceId: good.deviceId },
    ]) {
      const answer = await postJson("/partner/v1/events", token, body);
      expect({ body, status: answer.status, json: answer.json }).toMatchObject({
        body,
        status: 400,
        json: { error: { code: "INVALID_INPUT" } },
      });
    }
  });
});

describe("the peer-address allow-list", () => {
  test("outside the allowed CIDRs: 403 in the one shape, logged and counted; X-Forwarded-For is ignored", async () => {
    const before = await metrics();
    const token = await tokenFor(CLIENTS.intercom);
    const spoofing = {
      "x-forwarded-for": "10.99.0.7",
      "x-real-ip": "10.99.0.7",
      forwarded: "for=10.99.0.7",
    };
    const tokenAttempt = await call(vpnOnly.url, "/oauth/token", {
      headers: {
        ...FORM,
        ...spoofing,
        authorization: basic(CLIENTS.intercom.clientId, CLIENTS.intercom.secret),
      },
      body: "grant_type=client_credentials",
    });
    const checkAttempt = await call(vpnOnly.url, "/partner/v1/access-checks", {
      headers: {
        ...spoofing,
        "content-type": "application/json",
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ subject: "a".repeat(43), deviceId: "ic-a1", method: "key" }),
    });
    for (const answer of [tokenAttempt, checkAttempt]) {
      expect(answer.status).toBe(403);
      expect(answer.json).toEqual({
        error: {
          code: "FORBIDDEN",
          message: "this address may not use the partner surface",
          requestId: answer.headers.get("x-request-id"),
        },
      });
    }
    const after = await metrics();
    const refused = (text: string) =>
      metricValue(text, "propgate_partner_surface_refused_total", { reason: "outside_allowlist" });
    expect(refused(after) - refused(before)).toBe(2);
    // Also an anomaly: one per address and window (recorded, never a block: a NAT may hide many).
    await stack.deps.watch.settle();
    const [outside] = await listAnomalies(stack.database.db, { kind: "outside_vpn" });
    expect(outside).toMatchObject({ subjectType: "ip", subjectId: "127.0.0.1", blockId: null });
    expect(metricValue(await metrics(), "propgate_anomalies_total", { kind: "outside_vpn" })).toBe(
      1,
    );

    const line = stack.logs.find(
      (entry) => entry.requestId === tokenAttempt.headers.get("x-request-id"),
    );
    expect(line).toMatchObject({
      level: "warn",
      msg: "partner request refused",
      surface: "partner",
      ip: "127.0.0.1",
      type: "oauth.token",
      status: 403,
      refused: "outside_allowlist",
    });
    expect(typeof line?.time).toBe("string");
  });

  test("every request gets exactly one log line with ip, time and type — and no secret or token", async () => {
    const token = await tokenFor(CLIENTS.intercom);
    const check = await accessCheck(token, {
      subject: "b".repeat(43),
      deviceId: "ic-a1",
      method: "key",
    });
    const requestId = check.headers.get("x-request-id");
    const lines = stack.logs.filter((entry) => entry.requestId === requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "partner request",
      ip: "127.0.0.1",
      type: "access_check",
      method: "POST",
      status: 200,
      clientId: CLIENTS.intercom.clientId,
      partner: "intercom",
    });
    expect(Date.parse(String(lines[0]?.time))).toBeGreaterThan(0);
    const text = stack.logs.map((entry) => JSON.stringify(entry)).join("\n");
    for (const secret of [CLIENTS.intercom.secret, CLIENTS.barrier.secret, token]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe("rate limit per partner client", () => {
  test("over the client's quota: 429 with Retry-After and RateLimit fields; other clients go on", async () => {
    const roomy = { quota: 1000, windowSeconds: 60 };
    const policies: Record<LimitName, { quota: number; windowSeconds: number }> = {
      ip: roomy,
      resident: roomy,
      open: roomy,
      outbound: roomy,
      partner_client: { quota: 2, windowSeconds: 60 },
      partner_token_peer: roomy,
      partner_token_client: roomy,
    };
    const rateLimits = createRateLimits(
      { policies, keyPrefix: "partner-surface-test:" },
      { metrics: stack.deps.metrics, logger: stack.deps.logger },
    );
    const limited = servePartnerSurface(
      { ...stack.deps, rateLimits },
      { ...config, listen: { hostname: "127.0.0.1", port: 0 } },
    );
    try {
      const event = { type: "device.online", deviceId: "ic-a1", at: new Date().toISOString() };
      const token = async (client: { clientId: string; secret: string }) =>
        String((await tokenRequest(client, {}, limited.url)).json.access_token);
      const eventsToken = await token(CLIENTS.eventsOnly);
      const statuses: number[] = [];
      let last: Answer | undefined;
      for (let i = 0; i < 3; i++) {
        last = await postJson("/partner/v1/events", eventsToken, event, limited.url);
        statuses.push(last.status);
      }
      expect(statuses).toEqual([202, 202, 429]);
      expect(Number(last?.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(last?.headers.get("ratelimit-policy")).toContain("partner_client");
      expect(last?.json).toMatchObject({
        error: { code: "RATE_LIMITED", requestId: last?.headers.get("x-request-id") },
      });
      const other = await postJson(
        "/partner/v1/events",
        await token(CLIENTS.intercom),
        event,
        limited.url,
      );
      expect(other.status).toBe(202);
    } finally {
      await limited.stop();
      await rateLimits.close();
    }
  });
});

describe("the audit trail as an admin filters it", () => {
  const offers = createOfferMaker();
  afterAll(() => offers.close());

  test("admin.audit.list filters by every kind the code writes, and by operation", async () => {
    // Produce one row of every kind through the real paths.
    const resident = await stack.resident("user-audit-kinds");
    await grant(resident, ["intercom"]); // consent.grant
    await resident.trpc.consent.grant.mutate({ purpose: "video", noticeVersion: 1 });
    await grantPurpose(resident, "faces");
    await resident.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" }); // partner.request/.response
    await errorOf(resident.trpc.intercom.openDoor.mutate({ deviceId: "door-unknown" })); // access.denied
    const video = await resident.trpc.video.createSession.mutate({
      cameraId: "cam-a1",
      offerSdp: await offers.makeOffer(),
    });
    await resident.trpc.video.endSession.mutate({ sessionId: video.sessionId });
    const adminToken = await stack.issuer.mint({ sub: "admin-audit", sites: [], admin: true });
    const admin = stack.client(adminToken);
    const second = await resident.trpc.video.createSession.mutate({
      cameraId: "cam-a1",
      offerSdp: await offers.makeOffer(),
    });
    await admin.admin.videoSessions.end.mutate({
      sessionId: second.sessionId,
      reason: "audit kinds test",
    }); // admin.video_sessions.end
    await resident.trpc.consent.revoke.mutate({ purpose: "faces" }); // consent.revoke, erasure.requested
    const [erasure] = await admin.admin.erasures.list.query({ userId: resident.userId });
    if (!erasure) throw new Error("revoking faces queued no erasure");
    await admin.admin.erasures.retry.mutate({ erasureId: erasure.id, reason: "audit kinds test" }); // admin.erasures.retry
    await stack.background.runErasuresOnce(); // erasure.completed
    await admin.admin.devices.upsert.mutate({
      devices: [
        {
          id: "door-audit",
          kind: "door",
          siteId: "site-z",
          partner: "intercom",
          partnerDeviceId: "ic-audit",
          name: "Audit door",
        },
      ],
      reason: "audit kinds test",
    }); // admin.devices.upsert
    const token = await tokenFor(CLIENTS.intercom);
    expect(
      (
        await accessCheck(token, {
          subject: subjectAt("intercom", resident),
          deviceId: "ic-a1",
          method: "key",
        })
      ).status,
    ).toBe(200); // partner.access_check
    expect(
      (
        await postJson("/partner/v1/events", token, {
          type: "door.opened",
          deviceId: "ic-a1",
          at: new Date().toISOString(),
        })
      ).status,
    ).toBe(202); // partner.event
    const prober = await stack.resident("user-audit-prober");
    for (let i = 0; i < 10; i++) {
      await errorOf(prober.trpc.intercom.openDoor.mutate({ deviceId: `door-probe${i}` }));
    }
    await stack.deps.watch.settle(); // block.placed
    const [block] = await admin.admin.blocks.list.query({ subjectId: prober.userId });
    if (!block) throw new Error("ten refused devices placed no block");
    await admin.admin.blocks.lift.mutate({ blockId: block.id, reason: "audit kinds test" }); // admin.blocks.lift
    await admin.admin.audit.export.query({ kind: "admin.blocks.lift" }); // admin.audit.export

    for (const kind of AUDIT_KINDS) {
      const { rows } = await admin.admin.audit.list.query({ kind, limit: 500 });
      expect({ kind, found: rows.length > 0 }).toEqual({ kind, found: true });
      expect(rows.filter((row) => row.kind !== kind)).toEqual([]);
    }
    for (const operation of [
      "intercom.open",
      "video.create_session",
      "video.end_session",
      "subjects.erase",
      "access_check.key",
      "door.opened",
    ] as const) {
      const { rows } = await admin.admin.audit.list.query({ operation, limit: 500 });
      expect({ operation, found: rows.length > 0 }).toEqual({ operation, found: true });
      expect(rows.filter((row) => row.operation !== operation)).toEqual([]);
    }
    const { rows: created } = await admin.admin.audit.list.query({
      userId: resident.userId,
      kind: "partner.request",
      operation: "video.create_session",
    });
    expect(created).toHaveLength(2); // the resident's session, and the one an operator ended
    expect(created[0]).toMatchObject({ target: "cam-a1", partner: "intercom" });
  });

  test("a kind or an operation outside the vocabulary is a clear INVALID_INPUT", async () => {
    const admin = stack.client(
      await stack.issuer.mint({ sub: "admin-audit", sites: [], admin: true }),
    );
    for (const query of [{ kind: "nothing.here" }, { operation: "drop table" }]) {
      const error = await errorOf(admin.admin.audit.list.query(query as never));
      expect(error).toMatchObject({ code: "BAD_REQUEST", cause: "INVALID_INPUT" });
    }
  });
});
