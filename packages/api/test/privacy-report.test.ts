import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHmac } from "node:crypto";
import {
  type AuditContext,
  activateVideoSession,
  appendJournal,
  completeErasure,
  confirmUnits,
  createAuditSigner,
  generateAuditSigningKey,
  grantConsent,
  listErasures,
  pageAuditEvents,
  placeBlock,
  recordAnomaly,
  recordAuditEvent,
  recordKey,
  rememberSubject,
  reserveVideoSession,
  revokeConsent,
  upsertUnits,
} from "@propgate/consent-audit";
import { createTestDatabase, type TestDatabase } from "@propgate/consent-audit/testing";
import type { Partner, PartnerOperation, Purpose } from "@propgate/domain";
import { TRPCError } from "@trpc/server";
import { createLocalJWKSet, decodeProtectedHeader, flattenedVerify } from "jose";
import { auditKeysJwks } from "../src/consent/audit-keys-jwks.ts";
import type { Principal, ReceiptSigner } from "../src/index.ts";
import { countingRateLimits, TEST_SETTINGS } from "./fake-services.ts";
import { databaseApp } from "./fixtures/database-app.ts";

setDefaultTimeout(60_000);

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

const signer = createAuditSigner(generateAuditSigningKey());
/** The published JWKS as a verifier fetches it once and keeps it: JSON, no network after. */
const publishedJwks = JSON.parse(JSON.stringify(auditKeysJwks(signer.publicKey)));
const SEEDED: AuditContext = { sourceApp: "test", instanceId: "seed" };

/** A signed-in person; a resident's token names their unit (`unit-<name>`, seeded below). */
function person(name: string, adminRole: Principal["adminRole"] = null): Principal {
  const units = adminRole === null ? [`unit-${name}`] : [];
  return { userId: `${name}-${crypto.randomUUID()}`, sites: ["site-a"], units, adminRole };
}

/** A resident's pseudonym at a partner, as the subject registry makes it. */
const pseudonym = (partner: Partner, userId: string) =>
  createHmac("sha256", `key-${partner}`).update(userId).digest("base64url");

/** A partner call's attempt row, as the audit writer writes it. */
function partnerRequest(
  userId: string,
  operation: PartnerOperation,
  partner: Partner,
  purpose: Purpose,
) {
  return recordAuditEvent(database.db, {
    ...SEEDED,
    actor: userId,
    clientIp: "198.51.100.7",
    kind: "partner.request",
    result: "pending",
    userId,
    operation,
    partner,
    purpose,
    target: partner === "intercom" ? "door-a1" : "gate-a1",
    attempt: 1,
  });
}

interface History {
  subjects: Record<Partner, string>;
  keyId: string;
  blockId: string;
  erasureIds: string[];
  sessionId: string;
  unitId: string;
}

/**
 * A resident's history across both partners, in the database as the api leaves it: consents
 * granted and revoked (plates: an erasure at the barrier, confirmed, with its destruction record;
 * faces: one still pending), opens and plates calls, an access check, a guest key, a block on
 * them, a live video session, a journal entry and a unit.
 */
async function seedHistory(userId: string, tag: string): Promise<History> {
  const { db } = database;
  const audit = { ...SEEDED, actor: userId };
  for (const purpose of ["intercom", "barrier", "plates", "faces", "video", "journal"] as const)
    await grantConsent(
      db,
      { userId, purpose, noticeVersion: 1, channel: "app", method: "in_app_checkbox" },
      audit,
    );
  const subjects = {
    intercom: pseudonym("intercom", userId),
    barrier: pseudonym("barrier", userId),
  };
  for (const partner of ["intercom", "barrier"] as const)
    await rememberSubject(db, { partner, subject: subjects[partner], userId, sites: ["site-a"] });
  await partnerRequest(userId, "intercom.open", "intercom", "intercom");
  await partnerRequest(userId, "intercom.open", "intercom", "intercom");
  await partnerRequest(userId, "barrier.open", "barrier", "barrier");
  await partnerRequest(userId, "plates.add", "barrier", "plates");
  await recordAuditEvent(db, {
    ...SEEDED,
    actor: "intercom-gateway",
    clientIp: "10.8.0.2",
    kind: "partner.access_check",
    operation: "access_check.key",
    partner: "intercom",
    purpose: "intercom",
    target: "door-a1",
    userId,
    result: "granted",
  });
  for (const purpose of ["plates", "faces"] as const)
    await revokeConsent(
      db,
      { userId, purpose, channel: "app", method: "in_app_toggle", actor: userId },
      audit,
    );
  const erasures = await listErasures(db, { userId });
  const plates = erasures.find((erasure) => erasure.partner === "barrier");
  if (!plates) throw new Error("the plates revoke queued no erasure");
  await completeErasure(db, plates.id, { erased: { plates: 2 }, audit: SEEDED });
  const { key } = await recordKey(db, {
    userId,
    partner: "intercom",
    partnerKeyId: `pk-${tag}`,
    siteId: "site-a",
    deviceIds: ["door-a1"],
    validFrom: new Date().toISOString(),
    validUntil: new Date(Date.now() + 3_600_000).toISOString(),
    label: `courier ${tag}`,
  });
  const { anomaly } = await recordAnomaly(db, {
    kind: "unusual_opening",
    subjectType: "resident",
    subjectId: userId,
    windowStart: new Date(),
    windowSeconds: 600,
    count: 61,
    threshold: 60,
  });
  const block = await placeBlock(db, anomaly, { baseSeconds: 900, maxSeconds: 86_400 }, SEEDED);
  if (!block) throw new Error("no block placed");
  const sessionId = await reserveVideoSession(db, {
    userId,
    cameraId: "cam-a1",
    siteId: "site-a",
    partner: "intercom",
    maxLive: 2,
    pendingSeconds: 60,
  });
  await activateVideoSession(db, sessionId, {
    partnerSessionId: `whep-${tag}`,
    sessionPath: `/v1/sessions/whep-${tag}`,
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
  });
  await appendJournal(
    db,
    {
      kind: "door.opened",
      deviceId: "door-a1",
      occurredAt: new Date(),
      sourceEventId: `src-${tag}`,
    },
    [userId],
    { outbox: false },
  );
  const unitId = `unit-${tag}`;
  await upsertUnits(
    db,
    [{ id: unitId, partner: "intercom", partnerUnitId: `flat-${tag}`, siteId: "site-a" }],
    SEEDED,
  );
  await confirmUnits(db, userId, [unitId]);
  return {
    subjects,
    keyId: key.id,
    blockId: block.id,
    erasureIds: erasures.map((erasure) => erasure.id),
    sessionId,
    unitId,
  };
}

function instance(
  principals: Record<string, Principal>,
  options: { signer?: ReceiptSigner | null; quota?: number } = {},
) {
  return databaseApp(database, principals, {
    settings: { ...TEST_SETTINGS, auditVerifyKey: signer.publicKey },
    receiptSigner: options.signer === undefined ? signer : options.signer,
    rateLimits: countingRateLimits(
      options.quota === undefined ? {} : { privacy_report: options.quota },
    ),
  }).caller;
}

/** Verifies the detached JWS over the document's exact bytes, as any JOSE library can. */
async function verifyReport(report: { document: string; jws: string | null }) {
  const [header, payload, signature] = (report.jws ?? "").split(".");
  expect(payload).toBe("");
  const { payload: signed, protectedHeader } = await flattenedVerify(
    {
      protected: header,
      payload: Buffer.from(report.document, "utf8").toString("base64url"),
      signature: signature ?? "",
    },
    createLocalJWKSet(publishedJwks),
  );
  return { document: new TextDecoder().decode(signed), protectedHeader };
}

const causeOf = (error: unknown) =>
  (error as TRPCError & { propgate?: { code: string; retryAfterSeconds?: number } }).propgate;

describe("privacy.report", () => {
  let anna: Principal;
  let boris: Principal;
  let annaHistory: History;
  let borisHistory: History;
  beforeAll(async () => {
    anna = person("anna");
    boris = person("boris");
    annaHistory = await seedHistory(anna.userId, "anna");
    borisHistory = await seedHistory(boris.userId, "boris");
  });

  test("lists exactly the caller's consents, partners, operations and erasures, nothing of another", async () => {
    const report = await instance({ anna, boris })("anna").privacy.report();
    const doc = JSON.parse(report.document);
    expect(doc).toMatchObject({
      version: "propgate-privacy-report/1",
      subject: anna.userId,
      requestedThrough: "resident",
      controller: { name: "PropDevelopment", service: "Propgate" },
      retention: { policy: "docs/data-retention.md" },
      limits: { auditRowsShown: 100 },
    });
    expect(doc.reportId).toMatch(/^evt_/);
    expect(Date.parse(doc.generatedAt)).toBeGreaterThan(Date.now() - 60_000);

    // Consents: the state now and every change, with the notice's version and digest.
    const state = Object.fromEntries(
      doc.consents.current.map((c: { purpose: string; state: string }) => [c.purpose, c.state]),
    );
    expect(state).toMatchObject({
      intercom: "granted",
      barrier: "granted",
      plates: "revoked",
      faces: "revoked",
      guests: "none",
    });
    expect(doc.consents.historyTotal).toBe(8);
    expect(
      doc.consents.history.map(
        (e: { purpose: string; action: string }) => `${e.action} ${e.purpose}`,
      ),
    ).toEqual(
      expect.arrayContaining(["grant intercom", "grant plates", "revoke plates", "revoke faces"]),
    );
    const grant = doc.consents.history.find(
      (e: { action: string; purpose: string }) => e.action === "grant" && e.purpose === "intercom",
    );
    expect(grant).toMatchObject({ noticeVersion: 1, channel: "app", method: "in_app_checkbox" });
    expect(grant.noticeSha256).toMatch(/^[0-9a-f]{64}$/);

    // Partners: their pseudonyms at each, and what went there, counted per month.
    expect(doc.partners.pseudonyms).toEqual([
      {
        partner: "barrier",
        subject: annaHistory.subjects.barrier,
        sites: ["site-a"],
        updatedAt: expect.any(String),
      },
      {
        partner: "intercom",
        subject: annaHistory.subjects.intercom,
        sites: ["site-a"],
        updatedAt: expect.any(String),
      },
    ]);
    const month = new Date().toISOString().slice(0, 7);
    const monthly = doc.partners.monthly.map(
      (m: { month: string; kind: string; partner: string; operation: string; count: number }) =>
        `${m.month} ${m.kind} ${m.partner} ${m.operation} ${m.count}`,
    );
    expect(monthly.sort()).toEqual(
      [
        `${month} partner.access_check intercom access_check.key 1`,
        `${month} partner.request barrier barrier.open 1`,
        `${month} partner.request barrier plates.add 1`,
        `${month} partner.request intercom intercom.open 2`,
      ].sort(),
    );

    // Erasures per partner with their status, and the destruction record of the confirmed one.
    expect(
      doc.erasures.requests.map((e: { partner: string; categories: string[]; status: string }) => [
        e.partner,
        e.categories,
        e.status,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ["barrier", ["plates"], "done"],
        ["intercom", ["faces"], "pending"],
      ]),
    );
    expect(doc.erasures.requests).toHaveLength(2);
    expect(doc.erasures.destructionRecords).toEqual([
      expect.objectContaining({
        partner: "barrier",
        categories: ["plates"],
        erased: { plates: 2 },
      }),
    ]);

    // The rest: the key (never a code), the block and why, the session, journal, unit.
    expect(doc.guestKeys.inForce).toEqual([
      // The block on them queued it to end at the partner (invariant 7).
      expect.objectContaining({
        id: annaHistory.keyId,
        label: "courier anna",
        state: "ending",
        endReason: "blocked",
      }),
    ]);
    expect(JSON.stringify(doc.guestKeys)).not.toContain("code");
    expect(doc.blocks).toEqual([
      expect.objectContaining({
        id: annaHistory.blockId,
        kind: "unusual_opening",
        subjectType: "resident",
      }),
    ]);
    expect(doc.anomalies).toEqual([
      expect.objectContaining({ kind: "unusual_opening", count: 61, threshold: 60 }),
    ]);
    expect(doc.videoSessions.live).toEqual([
      expect.objectContaining({ id: annaHistory.sessionId, cameraId: "cam-a1", state: "live" }),
    ]);
    expect(doc.videoSessions.live[0].sessionPath).toBeUndefined();
    expect(doc.journal).toEqual({ count: 1, oldest: expect.any(String) });
    expect(doc.units).toEqual([
      expect.objectContaining({
        unitId: annaHistory.unitId,
        partnerUnitId: "flat-anna",
        siteId: "site-a",
      }),
    ]);

    // Their audit rows, whole, with their own address and nobody else's.
    expect(doc.audit.total).toBe(doc.audit.newest.length);
    const kinds = doc.audit.newest.map((row: { kind: string }) => row.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(["consent.grant", "partner.request", "block.placed"]),
    );
    for (const row of doc.audit.newest) expect(row.userId).toBe(anna.userId);
    const check = doc.audit.newest.find(
      (row: { kind: string }) => row.kind === "partner.access_check",
    );
    expect(check.clientIp).toBeNull();
    const open = doc.audit.newest.find((row: { kind: string }) => row.kind === "partner.request");
    expect(open.clientIp).toBe("198.51.100.7");

    // Nothing of the second resident, anywhere in the text.
    for (const foreign of [
      boris.userId,
      borisHistory.subjects.intercom,
      borisHistory.subjects.barrier,
      borisHistory.keyId,
      borisHistory.blockId,
      borisHistory.sessionId,
      borisHistory.unitId,
      ...borisHistory.erasureIds,
      "boris",
    ])
      expect(report.document).not.toContain(foreign);
  });

  test("the detached JWS verifies with jose against the published key; a changed byte fails", async () => {
    const report = await instance({ anna })("anna").privacy.report();
    const verified = await verifyReport(report);
    expect(verified.protectedHeader).toEqual({
      alg: "EdDSA",
      kid: signer.keyId,
      typ: "privacy-report+jws",
    });
    expect(verified.document).toBe(report.document);

    const at = report.document.indexOf(anna.userId);
    const changed = `${report.document.slice(0, at)}X${report.document.slice(at + 1)}`;
    await expect(verifyReport({ ...report, document: changed })).rejects.toThrow();
    const spaced = `${report.document} `;
    await expect(verifyReport({ ...report, document: spaced })).rejects.toThrow();

    const other = createAuditSigner(generateAuditSigningKey());
    const foreign = await instance({ anna }, { signer: other })("anna").privacy.report();
    expect(decodeProtectedHeader(foreign.jws ?? "").kid).toBe(other.keyId);
    await expect(verifyReport(foreign)).rejects.toThrow();
  });

  test("each report writes one privacy.report audit row, its id the report's, no content in it", async () => {
    const report = await instance({ anna })("anna").privacy.report();
    const { reportId } = JSON.parse(report.document);
    const { rows } = await pageAuditEvents(database.db, {
      userId: anna.userId,
      kind: "privacy.report",
    });
    const row = rows.find((each) => each.id === reportId);
    expect(row).toMatchObject({
      kind: "privacy.report",
      result: "ok",
      userId: anna.userId,
      actor: anna.userId,
      target: null,
      operation: null,
      reason: null,
    });
  });

  test("over the limit: TOO_MANY_REQUESTS with a retry time, and no report or row", async () => {
    const carl = person("carl");
    const caller = instance({ carl }, { quota: 1 })("carl");
    await caller.privacy.report();
    const refused = await caller.privacy.report().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TRPCError);
    expect((refused as TRPCError).code).toBe("TOO_MANY_REQUESTS");
    expect(causeOf(refused)).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 42 });
    const { rows } = await pageAuditEvents(database.db, {
      userId: carl.userId,
      kind: "privacy.report",
    });
    expect(rows).toHaveLength(1);
  });

  test("without a signing key the report comes unsigned", async () => {
    const report = await instance({ anna }, { signer: null })("anna").privacy.report();
    expect(report.jws).toBeNull();
    expect(JSON.parse(report.document).subject).toBe(anna.userId);
  });

  test("an operator produces the same report for a written request; a viewer cannot", async () => {
    const olga = person("olga", "operator");
    const vera = person("vera", "viewer");
    const caller = instance({ anna, olga, vera });
    const report = await caller("olga").admin.privacy.report({
      userId: anna.userId,
      reason: "written request 2025-17",
    });
    const doc = JSON.parse((await verifyReport(report)).document);
    expect(doc).toMatchObject({ subject: anna.userId, requestedThrough: "operator" });
    expect(doc.partners.pseudonyms).toHaveLength(2);
    expect(report.document).not.toContain(boris.userId);
    const { rows } = await pageAuditEvents(database.db, {
      userId: anna.userId,
      kind: "admin.privacy.report",
    });
    expect(rows[0]).toMatchObject({
      id: doc.reportId,
      actor: olga.userId,
      reason: "written request 2025-17",
      userId: anna.userId,
    });

    const viewer = await caller("vera")
      .admin.privacy.report({ userId: anna.userId, reason: "curious" })
      .catch((error: unknown) => error);
    expect(causeOf(viewer)?.code).toBe("FORBIDDEN");
    const noReason = await caller("olga")
      .admin.privacy.report({ userId: anna.userId } as never)
      .catch((error: unknown) => error);
    expect((noReason as TRPCError).code).toBe("BAD_REQUEST");
    const after = await pageAuditEvents(database.db, {
      userId: anna.userId,
      kind: "admin.privacy.report",
    });
    expect(after.rows).toHaveLength(1);
  });

  test("a resident with 100,000 audit rows gets a bounded report: 100 whole, all counted", async () => {
    const dora = person("dora");
    // Rows as the writer leaves them, a month apart in blocks of 10,000 (the chain is not walked).
    await database.db.execute(
      `insert into audit_events (chain_id, chain_seq, id, at, kind, source_app, instance_id, user_id,
         actor, operation, partner, purpose, target, attempt, result, prev_hash, hash)
       select 'seed-dora', i, 'evt_dora' || lpad(i::text, 12, '0'),
         timestamptz '2024-01-15' + ((i / 10000) || ' months')::interval + (i || ' seconds')::interval,
         'partner.request', 'seed', 'seed', '${dora.userId}', '${dora.userId}', 'intercom.open',
         'intercom', 'intercom', 'door-a1', 1, 'pending', repeat('0', 64), repeat('0', 64)
       from generate_series(1, 100000) as i`,
    );
    const started = performance.now();
    const report = await instance({ dora })("dora").privacy.report();
    const elapsed = performance.now() - started;
    const doc = JSON.parse(report.document);
    expect(doc.audit.total).toBe(100_000);
    expect(doc.audit.newest).toHaveLength(100);
    expect(doc.audit.newest[0].id).toBe("evt_dora000000100000");
    expect(doc.audit.byKindAndMonth).toHaveLength(11);
    expect(
      doc.audit.byKindAndMonth.reduce((sum: number, m: { count: number }) => sum + m.count, 0),
    ).toBe(100_000);
    expect(doc.partners.monthly).toHaveLength(11);
    expect(report.document.length).toBeLessThan(150_000);
    console.info(
      `privacy report at 100,000 audit rows: ${report.document.length} bytes in ${elapsed.toFixed(0)} ms`,
    );
  });
});
