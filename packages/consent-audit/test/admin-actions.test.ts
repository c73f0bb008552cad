import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { newId } from "@propgate/domain";
import { sql } from "drizzle-orm";
import {
  activateVideoSession,
  claimDueErasures,
  completeErasure,
  ErasureNotFoundError,
  InvalidInputError,
  listAuditEvents,
  listConsentHistory,
  listConsents,
  listErasures,
  requestAdminVideoSessionEnd,
  reserveVideoSession,
  retryErasure,
  revokeConsents,
  verifyAuditChain,
} from "../src/index";
import { createTestDatabase } from "../src/testing";
import { ADMIN_AUDIT, APP_AUDIT, grant, newUserId } from "./fixtures";

setDefaultTimeout(60_000);

const handle = await createTestDatabase();
afterAll(() => handle.close());

const OPERATOR = { ...ADMIN_AUDIT, sourceApp: "api", reason: "written request of 2 May" };
const revokeAll = (userId: string, purposes: ("intercom" | "faces" | "video" | "plates")[]) => ({
  userId,
  purposes,
  channel: "admin" as const,
  method: "admin_action",
  actor: "admin:adm_1",
  reason: OPERATOR.reason,
});

describe("an operator's revoke of several purposes", () => {
  test("revokes them in one transaction; history and audit rows carry the admin and reason", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    await grant(handle.db, userId, "faces");
    const consents = await revokeConsents(
      handle.db,
      revokeAll(userId, ["faces", "intercom", "video"]),
      OPERATOR,
    );
    expect(consents.map((c) => [c.purpose, c.state])).toEqual([
      ["intercom", "revoked"],
      ["barrier", "none"],
      ["video", "none"],
      ["faces", "revoked"],
      ["plates", "none"],
      ["guests", "none"],
      ["journal", "none"],
    ]);
    const history = await listConsentHistory(handle.db, userId);
    expect(history.filter((entry) => entry.action === "revoke")).toEqual([
      expect.objectContaining({ purpose: "faces", actor: "admin:adm_1", reason: OPERATOR.reason }),
      expect.objectContaining({ purpose: "intercom", channel: "admin", reason: OPERATOR.reason }),
    ]);
    expect(history.filter((entry) => entry.action === "grant")).toHaveLength(2);
    const rows = await listAuditEvents(handle.db, { userId });
    const admin = rows.filter((row) => row.kind !== "consent.grant");
    expect(admin.map((row) => row.kind).sort()).toEqual([
      "consent.revoke",
      "consent.revoke",
      "erasure.requested",
    ]);
    // The erasure's row names who requested it, as `admin:<id>`.
    expect(admin.map((row) => [row.kind, row.actor, row.reason]).sort()).toEqual([
      ["consent.revoke", "adm_1", OPERATOR.reason],
      ["consent.revoke", "adm_1", OPERATOR.reason],
      ["erasure.requested", "admin:adm_1", OPERATOR.reason],
    ]);
    expect(rows.filter((row) => row.kind === "consent.grant").map((row) => row.reason)).toEqual([
      null,
      null,
    ]);
  });

  test("all or nothing: when one purpose fails, none is revoked", async () => {
    const userId = newUserId();
    await grant(handle.db, userId, "intercom");
    await grant(handle.db, userId, "plates");
    // The erasure that revoking plates queues cannot be written: the whole revoke rolls back.
    await handle.db.execute(
      sql`alter table erasure_requests add constraint admin_actions_test_ck check (user_id <> ${sql.raw(`'${userId}'`)}) not valid`,
    );
    try {
      await expect(
        revokeConsents(handle.db, revokeAll(userId, ["intercom", "plates"]), OPERATOR),
      ).rejects.toThrow();
    } finally {
      await handle.db.execute(
        sql`alter table erasure_requests drop constraint admin_actions_test_ck`,
      );
    }
    const states = await listConsents(handle.db, userId);
    expect(states.filter((c) => c.state === "granted").map((c) => c.purpose)).toEqual([
      "intercom",
      "plates",
    ]);
  });
});

describe("an operator's erasure retry", () => {
  test("makes a pending erasure due now, audited; a done one or an unknown id is refused", async () => {
    const database = await createTestDatabase();
    try {
      const userId = newUserId();
      await grant(database.db, userId, "faces");
      await revokeConsents(database.db, revokeAll(userId, ["faces"]), OPERATOR);
      // A worker took it and failed: next try an hour away.
      const [claimed] = await claimDueErasures(database.db, { limit: 1, leaseSeconds: 3600 });
      if (!claimed) throw new Error("no erasure queued");
      expect(await claimDueErasures(database.db, { limit: 1, leaseSeconds: 60 })).toEqual([]);
      const retried = await retryErasure(database.db, claimed.id, OPERATOR);
      expect(Date.parse(retried.nextAttemptAt)).toBeLessThanOrEqual(Date.now() + 1000);
      const [due] = await claimDueErasures(database.db, { limit: 1, leaseSeconds: 60 });
      expect(due?.id).toBe(claimed.id);
      const [row] = await listAuditEvents(database.db, { kind: "admin.erasures.retry" });
      expect(row).toMatchObject({
        actor: "adm_1",
        reason: OPERATOR.reason,
        userId,
        callId: claimed.id,
        partner: "intercom",
        target: "faces",
      });
      await completeErasure(database.db, claimed.id, { erased: null, audit: APP_AUDIT });
      await expect(retryErasure(database.db, claimed.id, OPERATOR)).rejects.toBeInstanceOf(
        InvalidInputError,
      );
      await expect(retryErasure(database.db, newId("ers"), OPERATOR)).rejects.toBeInstanceOf(
        ErasureNotFoundError,
      );
      expect((await listErasures(database.db, { userId }))[0]?.status).toBe("done");
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true });
    } finally {
      await database.close();
    }
  });
});

describe("an operator's end of a video session", () => {
  test("queues it with reason admin, audited once; a second end changes nothing", async () => {
    const userId = newUserId();
    const id = await reserveVideoSession(handle.db, {
      userId,
      cameraId: "cam-admin",
      siteId: "site-a",
      partner: "intercom",
      maxLive: 2,
      pendingSeconds: 30,
    });
    await activateVideoSession(handle.db, id, {
      partnerSessionId: "ps-admin",
      sessionPath: "/whep/ps-admin",
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    });
    const session = await requestAdminVideoSessionEnd(handle.db, id, OPERATOR);
    expect(session).toMatchObject({ id, state: "ending", endReason: "admin" });
    expect(await requestAdminVideoSessionEnd(handle.db, id, OPERATOR)).toMatchObject({
      endReason: "admin",
    });
    expect(await requestAdminVideoSessionEnd(handle.db, newId("vss"), OPERATOR)).toBeNull();
    const rows = await listAuditEvents(handle.db, { userId, kind: "admin.video_sessions.end" });
    expect(rows.map((row) => row.result)).toEqual(["unchanged", "ok"]);
    expect(rows[1]).toMatchObject({
      actor: "adm_1",
      reason: OPERATOR.reason,
      target: "cam-admin",
      callId: id,
      partner: "intercom",
      purpose: "video",
    });
  });
});
