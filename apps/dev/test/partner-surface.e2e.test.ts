import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  enqueueErasure,
  listAnomalies,
  markOverdueErasures,
  recordAuditEvent,
  upsertUnits,
} from "@propgate/consent-audit";
import { ageSubjectSites } from "@propgate/consent-audit/testing";
import { AUDIT_KINDS } from "@propgate/domain";
import { subjectFor } from "@propgate/partner-client";
import {
  loadApiEnv,
  parseCidrList,
  type RunningPartnerSurface,
  servePartnerSurface,
} from "@propgate/server";
import {
  errorOf,
  grant,
  type Resident,
  startTestStack,
  type TestStack,
} from "../src/testing/harness.ts";
import { createOfferMaker } from "./fixtures/webrtc-offer.ts";

/**
 * The partner surface in the whole stack: what the api's calls leave for the partners' access
 * checks, the socket's peer address, and the audit trail an admin reads. Its HTTP behaviour
 * (tokens, scopes, refusals, bodies, events) is tested in process in packages/server.
 */

const TIMEOUT_MS = 5000;

interface Client {
  clientId: string;
  secret: string;
}
const CLIENTS = {
  intercom: { clientId: "ic-gateway", secret: `ic-secret-${crypto.randomUUID()}` },
  barrier: { clientId: "br-gateway", secret: `br-secret-${crypto.randomUUID()}` },
} satisfies Record<string, Client>;

/** A clients-file entry from loopback; cheap argon2id parameters, as the tests verify often. */
const registered = async (client: Client, partner: "intercom" | "barrier") => ({
  clientId: client.clientId,
  secretHash: await Bun.password.hash(client.secret, {
    algorithm: "argon2id",
    memoryCost: 4096,
    timeCost: 1,
  }),
  partner,
  scopes: ["access.check", "events.write"],
  addresses: ["127.0.0.1"],
});

let dir: string;
let stack: TestStack;
let surface: RunningPartnerSurface;
/** A second surface that admits only 10.99.0.0/24: a loopback client is outside it. */
let vpnOnly: RunningPartnerSurface;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propgate-partner-surface-"));
  const clientsFile = join(dir, "partner-clients.json");
  const clients = [
    await registered(CLIENTS.intercom, "intercom"),
    await registered(CLIENTS.barrier, "barrier"),
  ];
  writeFileSync(clientsFile, JSON.stringify(clients), { mode: 0o600 });
  stack = await startTestStack({
    env: {
      PARTNER_LISTEN: "127.0.0.1:0",
      PARTNER_ALLOWED_CIDRS: "127.0.0.0/8",
      PARTNER_CLIENTS_FILE: clientsFile,
    },
  });
  if (!stack.partnerSurface) throw new Error("the stack started without its partner surface");
  surface = stack.partnerSurface;
  const config = loadApiEnv(stack.env).partnerSurface;
  if (!config) throw new Error("no partner surface config");
  vpnOnly = servePartnerSurface(
    { ...stack.deps, instanceId: stack.deps.settings.instanceId },
    {
      ...config,
      allowedCidrs: parseCidrList("10.99.0.0/24"),
      listen: { hostname: "127.0.0.1", port: 0 },
    },
  );
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
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: init.headers,
    body: init.body,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : {} };
}

function basic({ clientId, secret }: Client): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function tokenFor(client: Client) {
  const answer = await call(surface.url, "/oauth/token", {
    headers: { ...FORM, authorization: basic(client) },
    body: "grant_type=client_credentials",
  });
  expect(answer.status).toBe(200);
  return String(answer.json.access_token);
}

function postJson(path: string, token: string, body: unknown) {
  return call(surface.url, path, {
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
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

describe("POST /partner/v1/access-checks", () => {
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

  test("any call of the resident confirms their sites anew at every partner, a site taken away gone", async () => {
    const userId = `user-confirms-${crypto.randomUUID()}`;
    const before = await stack.resident(userId, ["site-a", "site-b"]);
    await grant(before, ["intercom", "barrier"]);
    await before.trpc.intercom.openDoor.mutate({ deviceId: "door-a1" });
    await before.trpc.barrier.open.mutate({ deviceId: "gate-a" });
    await ageSubjectSites(stack.database.db, userId, 120);
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
});

// The surface's refusals, limits, logs and metrics are tested in process in packages/server;
// what only a listener shows is that they judge the socket's peer address.
describe("the peer address of the socket", () => {
  test("is what the allow-list, the anomaly and the log judge; forwarded headers are ignored", async () => {
    const token = await tokenFor(CLIENTS.intercom);
    const spoofing = {
      "x-forwarded-for": "10.99.0.7",
      "x-real-ip": "10.99.0.7",
      forwarded: "for=10.99.0.7",
    };
    const tokenAttempt = await call(vpnOnly.url, "/oauth/token", {
      headers: { ...FORM, ...spoofing, authorization: basic(CLIENTS.intercom) },
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
    // The instance's watch records the loopback peer (recorded, never a block: a NAT may hide many).
    await stack.deps.watch.settle();
    const [outside] = await listAnomalies(stack.database.db, { kind: "outside_vpn" });
    expect(outside).toMatchObject({ subjectType: "ip", subjectId: "127.0.0.1", blockId: null });
    const refusal = stack.logs.find(
      (entry) =>
        entry.msg === "partner request refused" &&
        entry.requestId === tokenAttempt.headers.get("x-request-id"),
    );
    expect([refusal?.ip, refusal?.refused]).toEqual(["127.0.0.1", "outside_allowlist"]);
    // Nothing the instance logged holds a client secret or a token.
    const text = stack.logs.map((entry) => JSON.stringify(entry)).join("\n");
    for (const secret of [CLIENTS.intercom.secret, CLIENTS.barrier.secret, token]) {
      expect(text).not.toContain(secret);
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
    await resident.trpc.consent.grant.mutate({ purpose: "journal", noticeVersion: 1 });
    await resident.trpc.consent.revoke.mutate({ purpose: "journal" }); // journal.erased
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
    await admin.admin.journal.list.query({ userId: resident.userId }); // admin.journal.read
    await resident.trpc.consent.grant.mutate({ purpose: "guests", noticeVersion: 1 });
    const key = await resident.trpc.keys.create.mutate({
      deviceIds: ["door-a1"],
      validUntil: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await admin.admin.keys.revoke.mutate({ keyId: key.keyId, reason: "audit kinds test" }); // admin.keys.revoke
    await upsertUnits(
      stack.deps.database.db,
      [{ id: "unit-audit", partner: "intercom", partnerUnitId: "flat-audit", siteId: "site-z" }],
      { sourceApp: "cli", instanceId: "audit-kinds-test", actor: "operator:test" },
    ); // admin.units.upsert (what `propgate units import` writes)
    await admin.admin.erasures.records.query({ format: "csv" }); // admin.erasures.records
    await resident.trpc.privacy.report.mutate(); // privacy.report
    await admin.admin.privacy.report.mutate({
      userId: resident.userId,
      reason: "audit kinds test",
    }); // admin.privacy.report
    const cli = { sourceApp: "cli", instanceId: "audit-kinds-test", actor: "operator:test" };
    const late = await enqueueErasure(
      stack.deps.database.db,
      {
        userId: "user-audit-late",
        partner: "barrier",
        categories: ["plates"],
        reason: "admin_request",
        requestedBy: "admin:audit-kinds",
      },
      cli,
    );
    await markOverdueErasures(stack.deps.database.db, {
      deadlineSeconds: 0,
      now: new Date(Date.parse(late.requestedAt) + 1000),
      audit: cli,
    }); // erasure.overdue (what the erasure worker writes at ERASURE_DEADLINE_DAYS)
    await recordAuditEvent(stack.deps.database.db, {
      sourceApp: "cli",
      instanceId: "audit-kinds-test",
      actor: "system:retention",
      kind: "retention.run",
      result: "ok",
      target: new Date().toISOString(),
    }); // retention.run (what `propgate retention run` writes)

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
