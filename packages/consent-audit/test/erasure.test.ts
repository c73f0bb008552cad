import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import {
  claimDueErasures,
  completeErasure,
  countOverdueErasures,
  countPendingErasures,
  type Database,
  type DatabaseHandle,
  ErasureNotFoundError,
  type ErasureRequest,
  enqueueErasure,
  failErasureAttempt,
  InvalidInputError,
  listAuditEvents,
  listErasures,
  openDatabase,
  revokeConsent,
  verifyAuditChain,
} from "../src/index";
import { erasureRequests } from "../src/schema/index";
import { createTestDatabase, type TestDatabase } from "../src/testing";
import { ADMIN_AUDIT, APP_AUDIT, grant, newUserId, revokeInput, waitFor } from "./fixtures";

setDefaultTimeout(60_000);

const onPostgres = process.env.DATABASE_URL !== undefined;

const handle = await createTestDatabase();
afterAll(() => handle.close());

// Claims take every due request of a database, so claim tests get a database of their own.
const extraHandles: DatabaseHandle[] = [];
afterEach(async () => {
  await Promise.all(extraHandles.splice(0).map((h) => h.close()));
});
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  extraHandles.push(db);
  return db;
}

const WORKER_AUDIT = { sourceApp: "api", instanceId: "api-worker-1", requestId: "req_worker" };

function adminErasure(
  db: Database,
  userId: string,
  categories: ("faces" | "plates")[] = ["faces"],
) {
  return enqueueErasure(
    db,
    {
      userId,
      partner: categories.includes("plates") ? "barrier" : "intercom",
      categories,
      reason: "admin_request",
      requestedBy: "admin:adm_1",
    },
    ADMIN_AUDIT,
  );
}

describe("revokeConsent queues erasure", () => {
  test("revoking faces queues one pending request to the intercom, with its audit rows", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "faces");
    await revokeConsent(handle.db, revokeInput(userId, "faces"), APP_AUDIT);

    const requests = await listErasures(handle.db, { userId });
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request).toMatchObject({
      userId,
      partner: "intercom",
      categories: ["faces"],
      reason: "consent_revoked",
      requestedBy: userId,
      status: "pending",
      attempts: 0,
      lastError: null,
      completedAt: null,
      partnerResponse: null,
    });
    expect(request?.id).toMatch(/^ers_[0-9a-z]{20}$/);

    const kinds = (await listAuditEvents(handle.db, { userId })).map((e) => e.kind);
    expect(kinds).toEqual(["erasure.requested", "consent.revoke", "consent.grant"]);
    const [requested] = await listAuditEvents(handle.db, { userId, kind: "erasure.requested" });
    expect(requested).toMatchObject({
      userId,
      partner: "intercom",
      target: "faces",
      actor: userId,
      operation: "subjects.erase",
      callId: request?.id,
      result: "ok",
      sourceApp: "api",
    });
  });

  test("revoking plates queues one request to the barrier", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "plates");
    await revokeConsent(
      handle.db,
      { ...revokeInput(userId, "plates", "admin:adm_1"), channel: "admin", reason: "by phone" },
      ADMIN_AUDIT,
    );
    const requests = await listErasures(handle.db, { userId });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      partner: "barrier",
      categories: ["plates"],
      requestedBy: "admin:adm_1",
    });
  });

  test("no request for a purpose that was not granted, a repeated revoke or another purpose", async () => {
    const userId = newUserId();
    await revokeConsent(handle.db, revokeInput(userId, "faces"), APP_AUDIT);
    expect(await listErasures(handle.db, { userId })).toEqual([]);

    await grant(handle.db, userId, "plates");
    await revokeConsent(handle.db, revokeInput(userId, "plates"), APP_AUDIT);
    await revokeConsent(handle.db, revokeInput(userId, "plates"), APP_AUDIT);
    expect(await listErasures(handle.db, { userId })).toHaveLength(1);

    for (const purpose of ["intercom", "barrier", "video"] as const) {
      await grant(handle.db, userId, purpose);
      await revokeConsent(handle.db, revokeInput(userId, purpose), APP_AUDIT);
    }
    expect(await listErasures(handle.db, { userId })).toHaveLength(1);
    expect(await listAuditEvents(handle.db, { userId, kind: "erasure.requested" })).toHaveLength(1);
  });

  test("the request is part of the revoke's transaction: a rollback leaves neither", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "faces");
    const rollback = new Error("caller rolls back");
    await expect(
      handle.db.transaction(async (tx) => {
        await revokeConsent(tx, revokeInput(userId, "faces"), APP_AUDIT);
        expect(await listErasures(tx, { userId })).toHaveLength(1);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expect(await listErasures(handle.db, { userId })).toEqual([]);
    expect(await listAuditEvents(handle.db, { userId, kind: "erasure.requested" })).toEqual([]);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });
});

describe("enqueueErasure", () => {
  test("an admin request for both categories at one partner is rejected; one per partner works", async () => {
    const userId = newUserId();
    const error = await enqueueErasure(
      handle.db,
      {
        userId,
        partner: "intercom",
        categories: ["faces", "plates"],
        reason: "admin_request",
        requestedBy: "admin:adm_1",
      },
      ADMIN_AUDIT,
    ).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(await listErasures(handle.db, { userId })).toEqual([]);

    const faces = await adminErasure(handle.db, userId, ["faces", "faces"]);
    expect(faces).toMatchObject({
      partner: "intercom",
      categories: ["faces"],
      reason: "admin_request",
      requestedBy: "admin:adm_1",
    });
    await adminErasure(handle.db, userId, ["plates"]);
    expect((await listErasures(handle.db, { userId })).map((r) => r.partner).sort()).toEqual([
      "barrier",
      "intercom",
    ]);
    const [audit] = await listAuditEvents(handle.db, { userId, kind: "erasure.requested" });
    expect(audit).toMatchObject({ actor: "admin:adm_1", sourceApp: "admin", target: "plates" });
  });

  test("rejects bad input before writing anything", async () => {
    const userId = newUserId();
    const base = {
      userId,
      partner: "intercom",
      categories: ["faces"],
      reason: "admin_request",
      requestedBy: "admin:adm_1",
    } as const;
    const bad: unknown[] = [
      { ...base, categories: [] },
      { ...base, categories: ["video"] },
      { ...base, partner: "elevator" },
      { ...base, reason: "because" },
      { ...base, requestedBy: "" },
      { ...base, extra: "field" },
    ];
    for (const input of bad) {
      await expect(
        enqueueErasure(handle.db, input as typeof base, ADMIN_AUDIT),
      ).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(await listErasures(handle.db, { userId })).toEqual([]);
  });
});

describe("worker: claim, fail, complete", () => {
  test("a claim leases requests: claimed ones are not claimed again until the lease passes", async () => {
    const db = (await freshDatabase()).db;
    const users = [newUserId(), newUserId(), newUserId()];
    for (const userId of users) await adminErasure(db, userId);

    const first = await claimDueErasures(db, { limit: 2, leaseSeconds: 0.5 });
    expect(first.map((r) => r.userId)).toEqual(users.slice(0, 2));
    const second = await claimDueErasures(db, { limit: 10, leaseSeconds: 60 });
    expect(second.map((r) => r.userId)).toEqual(users.slice(2));
    expect(await claimDueErasures(db, { limit: 10, leaseSeconds: 60 })).toEqual([]);
    for (const request of first) {
      expect(Date.parse(request.nextAttemptAt)).toBeGreaterThan(Date.parse(request.requestedAt));
    }

    // After the short lease the first two are due again; the long-leased third is not.
    let again: ErasureRequest[] = [];
    await waitFor("the 0.5 s lease to pass", async () => {
      again = again.concat(await claimDueErasures(db, { limit: 10, leaseSeconds: 60 }));
      return again.length >= 2;
    });
    expect(again.map((r) => r.userId).sort()).toEqual(users.slice(0, 2).sort());
    expect(await countPendingErasures(db)).toBe(3);
  });

  test("a failed attempt counts, keeps the code and waits for the retry time", async () => {
    const db = (await freshDatabase()).db;
    const userId = newUserId();
    const request = await adminErasure(db, userId, ["plates"]);
    const [claimed] = await claimDueErasures(db, { limit: 1, leaseSeconds: 30 });
    expect(claimed?.id).toBe(request.id);

    const failed = await failErasureAttempt(db, request.id, {
      errorCode: "http_503",
      retryInSeconds: 3600,
    });
    expect(failed).toMatchObject({ status: "pending", attempts: 1, lastError: "http_503" });
    const delay = Date.parse(failed.nextAttemptAt) - Date.parse(request.requestedAt);
    expect(delay).toBeGreaterThanOrEqual(3_599_000);
    expect(await claimDueErasures(db, { limit: 10, leaseSeconds: 30 })).toEqual([]);

    const again = await failErasureAttempt(db, request.id, {
      errorCode: "timeout",
      retryInSeconds: 0,
    });
    expect(again).toMatchObject({ attempts: 2, lastError: "timeout" });
    const [due] = await claimDueErasures(db, { limit: 10, leaseSeconds: 30 });
    expect(due).toMatchObject({ id: request.id, attempts: 2 });
  });

  test("an error code must be a short code, not partner text", async () => {
    const db = (await freshDatabase()).db;
    const request = await adminErasure(db, newUserId());
    for (const errorCode of ["subject 42 not found: Ivanov", "", "x".repeat(65)]) {
      await expect(
        failErasureAttempt(db, request.id, { errorCode, retryInSeconds: 5 }),
      ).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(
      failErasureAttempt(db, request.id, { errorCode: "http_503", retryInSeconds: -1 }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect((await listErasures(db))[0]).toMatchObject({ attempts: 0, lastError: null });
  });

  test("completion marks it done and writes the erasure.completed audit row", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "faces");
    await revokeConsent(handle.db, revokeInput(userId, "faces"), APP_AUDIT);
    const [request] = await listErasures(handle.db, { userId });
    if (request === undefined) throw new Error("no erasure queued");
    await failErasureAttempt(handle.db, request.id, { errorCode: "http_503", retryInSeconds: 0 });

    const done = await completeErasure(handle.db, request.id, {
      erased: { faces: 2 },
      audit: WORKER_AUDIT,
    });
    expect(done).toMatchObject({
      id: request.id,
      status: "done",
      attempts: 1,
      lastError: "http_503",
      partnerResponse: { faces: 2 },
    });
    expect(done.completedAt).not.toBeNull();
    expect((await listErasures(handle.db, { userId }))[0]).toEqual(done);

    const [completed] = await listAuditEvents(handle.db, { userId, kind: "erasure.completed" });
    expect(completed).toMatchObject({
      kind: "erasure.completed",
      userId,
      target: "faces",
      partner: "intercom",
      operation: "subjects.erase",
      actor: userId,
      result: "ok",
      callId: request.id,
      sourceApp: "api",
      instanceId: "api-worker-1",
      requestId: "req_worker",
    });

    // Idempotent: a second completion (e.g. after a lease ran out) writes nothing more.
    const twice = await completeErasure(handle.db, request.id, {
      erased: { faces: 0 },
      audit: WORKER_AUDIT,
    });
    expect(twice).toEqual(done);
    expect(
      await failErasureAttempt(handle.db, request.id, { errorCode: "late", retryInSeconds: 0 }),
    ).toEqual(done);
    expect(await listAuditEvents(handle.db, { userId, kind: "erasure.completed" })).toHaveLength(1);
    expect(await verifyAuditChain(handle.db)).toMatchObject({ ok: true });
  });

  test("a done request is never claimed again", async () => {
    const db = (await freshDatabase()).db;
    const request = await adminErasure(db, newUserId());
    await completeErasure(db, request.id, { erased: {}, audit: WORKER_AUDIT });
    expect(await claimDueErasures(db, { limit: 10, leaseSeconds: 30 })).toEqual([]);
    expect(await countPendingErasures(db)).toBe(0);
  });

  test("unknown ids and bad results are refused", async () => {
    const missing = "ers_00000000000000000000";
    await expect(
      completeErasure(handle.db, missing, { erased: {}, audit: WORKER_AUDIT }),
    ).rejects.toBeInstanceOf(ErasureNotFoundError);
    await expect(
      failErasureAttempt(handle.db, missing, { errorCode: "http_503", retryInSeconds: 1 }),
    ).rejects.toBeInstanceOf(ErasureNotFoundError);
    await expect(
      completeErasure(handle.db, "evt_1", { erased: {}, audit: WORKER_AUDIT }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    const request = await adminErasure(handle.db, newUserId());
    for (const erased of [{ faces: -1 }, { faces: 1.5 }, { names: 3 }]) {
      await expect(
        completeErasure(handle.db, request.id, {
          erased: erased as { faces: number },
          audit: WORKER_AUDIT,
        }),
      ).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(
      claimDueErasures(handle.db, { limit: 0, leaseSeconds: 30 }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(claimDueErasures(handle.db, { limit: 1, leaseSeconds: 0 })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });
});

describe("admin views", () => {
  test("listErasures filters by user and status, newest first", async () => {
    const db = (await freshDatabase()).db;
    const userId = newUserId();
    const older = await adminErasure(db, userId, ["faces"]);
    const newer = await adminErasure(db, userId, ["plates"]);
    await adminErasure(db, newUserId());
    await db
      .update(erasureRequests)
      .set({ requestedAt: sql`now() - interval '1 minute'` })
      .where(eq(erasureRequests.id, older.id));
    await completeErasure(db, newer.id, { erased: { plates: 1 }, audit: WORKER_AUDIT });

    expect((await listErasures(db, { userId })).map((r) => r.id)).toEqual([newer.id, older.id]);
    expect((await listErasures(db, { userId, status: "pending" })).map((r) => r.id)).toEqual([
      older.id,
    ]);
    expect(await listErasures(db, { status: "done" })).toHaveLength(1);
    expect(await listErasures(db, { limit: 1 })).toHaveLength(1);
    expect(await listErasures(db)).toHaveLength(3);
    await expect(listErasures(db, { limit: 501 })).rejects.toBeInstanceOf(InvalidInputError);
  });

  test("countOverdueErasures counts pending requests older than the threshold", async () => {
    const db = (await freshDatabase()).db;
    const stale = await adminErasure(db, newUserId());
    const staleDone = await adminErasure(db, newUserId());
    await adminErasure(db, newUserId());
    await db
      .update(erasureRequests)
      .set({ requestedAt: sql`now() - interval '2 hours'` })
      .where(sql`${erasureRequests.id} in (${stale.id}, ${staleDone.id})`);
    await completeErasure(db, staleDone.id, { erased: { faces: 1 }, audit: WORKER_AUDIT });

    expect(await countOverdueErasures(db, { olderThanSeconds: 3600 })).toBe(1);
    expect(await countOverdueErasures(db, { olderThanSeconds: 3 * 3600 })).toBe(0);
    expect(await countPendingErasures(db)).toBe(2);
    await completeErasure(db, stale.id, { erased: { faces: 1 }, audit: WORKER_AUDIT });
    expect(await countOverdueErasures(db, { olderThanSeconds: 3600 })).toBe(0);
    expect(await countPendingErasures(db)).toBe(1);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });
});

if (!onPostgres) {
  console.log(
    "[skip] erasure claims across two api instances: needs PostgreSQL (set DATABASE_URL); PGlite has one connection",
  );
}

describe.if(onPostgres)("two api instances (PostgreSQL)", () => {
  test("a claim skips requests another instance holds locked, without waiting", async () => {
    const a = await freshDatabase();
    const b = await openDatabase({ url: a.url ?? "", max: 2 });
    extraHandles.push(b);
    for (let i = 0; i < 6; i++) await adminErasure(a.db, newUserId());

    let fromB: ErasureRequest[] = [];
    const fromA = await a.db.transaction(async (tx) => {
      const held = await claimDueErasures(tx, { limit: 2, leaseSeconds: 60 });
      // A's transaction still holds its rows locked: B must get the others at once.
      fromB = await claimDueErasures(b.db, { limit: 10, leaseSeconds: 60 });
      return held;
    });
    expect(fromA).toHaveLength(2);
    expect(fromB).toHaveLength(4);
    const ids = new Set([...fromA, ...fromB].map((r) => r.id));
    expect(ids.size).toBe(6);
    expect(await claimDueErasures(b.db, { limit: 10, leaseSeconds: 60 })).toEqual([]);
  });

  test("concurrent claims on two pools hand out each request once", async () => {
    const a = await freshDatabase();
    const b = await openDatabase({ url: a.url ?? "", max: 4 });
    extraHandles.push(b);
    const created = new Set<string>();
    for (let i = 0; i < 40; i++) created.add((await adminErasure(a.db, newUserId())).id);

    const batches = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        claimDueErasures((i % 2 === 0 ? a : b).db, { limit: 7, leaseSeconds: 60 }),
      ),
    );
    const claimed = batches.flat().map((r) => r.id);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.length).toBe(40);
    expect(new Set(claimed)).toEqual(created);
  });
});
