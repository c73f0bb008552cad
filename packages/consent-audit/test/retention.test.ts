import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import {
  appendJournal,
  completeErasure,
  type Database,
  InvalidInputError,
  lastRetentionRun,
  listConsentHistory,
  listConsents,
  pruneExpired,
  RETENTION_KINDS,
  type RetentionPeriods,
  RetentionRunningError,
  recordAuditEvent,
  recordVpnEvent,
  rememberSubject,
  retentionCuts,
  revokeConsent,
  withRetentionLock,
} from "../src/index";
import {
  anomalies,
  blocks,
  consentEvents,
  destructionRecords,
  erasureRequests,
  guestKeys,
  journalEntries,
  partnerSubjects,
  videoSessions,
  vpnEvents,
  webhookOutbox,
} from "../src/schema/index";
import { APP_AUDIT, databasesPerTest, grant, newUserId, revokeInput } from "./fixtures";

setDefaultTimeout(60_000);

const freshDatabase = databasesPerTest();
const DAY = 86_400_000;
const WORKER_AUDIT = { sourceApp: "api", instanceId: "api-worker-1", actor: "erasure-worker" };

/** Every period 0 (prune all that is over now), destruction records at their floor of a year. */
const NOW_PERIODS: RetentionPeriods = {
  ANOMALY_RETENTION_DAYS: 0,
  BLOCK_RETENTION_DAYS: 0,
  VPN_EVENT_RETENTION_DAYS: 0,
  VIDEO_SESSION_RETENTION_DAYS: 0,
  GUEST_KEY_RETENTION_DAYS: 0,
  JOURNAL_RETENTION_DAYS: 0,
  WEBHOOK_DELIVERED_RETENTION_DAYS: 0,
  PARTNER_SUBJECT_RETENTION_DAYS: 0,
  ERASURE_REQUEST_RETENTION_DAYS: 0,
  CONSENT_HISTORY_RETENTION_DAYS: 0,
  AUDIT_PERSONAL_DATA_DAYS: 0,
  DESTRUCTION_RECORD_YEARS: 1,
};

/** A 43-char base64url pseudonym, as the api's HMAC gives. */
const pseudonym = (userId: string) =>
  new Bun.CryptoHasher("sha256").update(userId).digest("base64url");
const ago = (ms: number) => new Date(Date.now() - ms);
const ids = async <T extends { id: string }>(rows: Promise<T[]>) =>
  (await rows).map((row) => row.id).sort();

async function anomalyAndBlocks(db: Database, subjectId: string) {
  await db.insert(anomalies).values({
    id: `anm_${subjectId}`,
    kind: "credential_guessing",
    subjectType: "ip",
    subjectId,
    windowStart: ago(DAY),
    windowSeconds: 300,
    count: 30,
    threshold: 30,
    firstSeen: ago(DAY),
    lastSeen: ago(DAY),
  });
  const block = (id: string, end: Partial<typeof blocks.$inferInsert>) => ({
    id,
    subjectType: "ip",
    subjectId,
    kind: "credential_guessing",
    offence: 1,
    createdAt: ago(2 * DAY),
    expiresAt: ago(DAY),
    ...end,
  });
  await db
    .insert(blocks)
    .values([
      block("blk_expired", {}),
      block("blk_lifted", { expiresAt: new Date(Date.now() + DAY), liftedAt: ago(60_000) }),
      block("blk_in_force", { expiresAt: new Date(Date.now() + DAY) }),
    ]);
}

async function videoAndKeys(db: Database, userId: string) {
  const session = (id: string, endedAt: Date | null) => ({
    id,
    userId,
    cameraId: "cam-1",
    partner: "intercom",
    partnerSessionId: `ps-${id}`,
    sessionPath: `/v1/sessions/${id}`,
    createdAt: ago(DAY),
    expiresAt: new Date(Date.now() + DAY),
    endedAt,
    endReason: endedAt ? ("resident" as const) : null,
  });
  await db
    .insert(videoSessions)
    .values([session("vs_ended", ago(60_000)), session("vs_live", null)]);
  const key = (id: string, fields: Partial<typeof guestKeys.$inferInsert>) => ({
    id,
    userId,
    partner: "intercom",
    partnerKeyId: `pk-${id}`,
    siteId: "site-a",
    deviceIds: ["door-a1"],
    validFrom: ago(2 * DAY),
    validUntil: new Date(Date.now() + DAY),
    ...fields,
  });
  await db
    .insert(guestKeys)
    .values([
      key("key_ended", { state: "ended", endReason: "resident", endedAt: ago(60_000) }),
      key("key_lapsed", { validUntil: ago(60_000) }),
      key("key_valid", {}),
      key("key_ending", { state: "ending", endReason: "resident", endRequestedAt: ago(60_000) }),
    ]);
}

async function journalWithMessages(db: Database, userId: string) {
  await grant(db, userId, "journal");
  await db.transaction((tx) =>
    appendJournal(
      tx,
      { kind: "call.ended", occurredAt: ago(DAY), sourceEventId: "evt-1" },
      [userId],
      {
        outbox: true,
      },
    ),
  );
  await db.transaction((tx) =>
    appendJournal(
      tx,
      { kind: "call.ended", occurredAt: ago(DAY), sourceEventId: "evt-2" },
      [userId],
      {
        outbox: true,
      },
    ),
  );
  const [first] = await db.select().from(webhookOutbox).orderBy(webhookOutbox.seq).limit(1);
  if (!first) throw new Error("no webhook message queued");
  await db
    .update(webhookOutbox)
    .set({ status: "delivered", deliveredAt: ago(60_000) })
    .where(eq(webhookOutbox.seq, first.seq));
  return first.id;
}

describe("pruneExpired with every period 0", () => {
  test("prunes every kind past its cut, and keeps everything live", async () => {
    const { db } = await freshDatabase();
    const revoked = newUserId(); // revoked everything: their history and pseudonym may go
    const consenting = newUserId(); // holds intercom and journal consent: kept
    const erasing = newUserId(); // revoked, an erasure at the barrier under way: pseudonym kept

    // A revoke of plates queues their erasure at the barrier: done for one, under way for the other.
    for (const userId of [revoked, erasing]) {
      await grant(db, userId, "plates");
      await revokeConsent(db, revokeInput(userId, "plates"), APP_AUDIT);
    }
    const [done] = await db
      .select({ id: erasureRequests.id })
      .from(erasureRequests)
      .where(eq(erasureRequests.userId, revoked));
    if (!done) throw new Error("the revoke queued no erasure");
    await completeErasure(db, done.id, { erased: null, status: "done", audit: WORKER_AUDIT });
    await grant(db, consenting, "intercom");
    for (const [userId, partner] of [
      [revoked, "barrier"],
      [consenting, "intercom"],
      [erasing, "barrier"],
    ] as const)
      await rememberSubject(db, { partner, subject: pseudonym(userId), userId, sites: ["site-a"] });
    await db.update(destructionRecords).set({ destroyedAt: ago(400 * DAY) });
    await anomalyAndBlocks(db, "198.51.100.9");
    await recordVpnEvent(db, {
      at: ago(60_000),
      iface: "wg0",
      peerFingerprint: "00000000000000f1",
      endpointIp: "192.0.2.5",
      kind: "connected",
      rxBytes: 0,
      txBytes: 0,
    });
    await videoAndKeys(db, consenting);
    await journalWithMessages(db, consenting);
    // The rows must be before the cut, which is taken now.
    await db.execute(sql`select pg_sleep(0.01)`);

    const counts = await pruneExpired(db, { cuts: retentionCuts(NOW_PERIODS, new Date()) });
    expect(Object.keys(counts).sort()).toEqual([...RETENTION_KINDS].sort());
    expect(counts).toEqual({
      anomalies: 1,
      blocks: 2,
      vpnEvents: 1,
      videoSessions: 1,
      guestKeys: 2,
      journalEntries: 2,
      partnerEventReceipts: 0,
      webhookMessages: 1, // the delivered one; the pending one goes with its journal entry
      partnerSubjects: 1,
      erasureRequests: 1,
      consentHistory: 4, // grant and revoke of plates, for two residents
      destructionRecords: 1,
    });

    expect(await ids(db.select({ id: blocks.id }).from(blocks))).toEqual(["blk_in_force"]);
    expect(await ids(db.select({ id: videoSessions.id }).from(videoSessions))).toEqual(["vs_live"]);
    expect(await ids(db.select({ id: guestKeys.id }).from(guestKeys))).toEqual([
      "key_ending",
      "key_valid",
    ]);
    expect(await db.select().from(anomalies)).toEqual([]);
    expect(await db.select().from(vpnEvents)).toEqual([]);
    expect(await db.select().from(journalEntries)).toEqual([]);
    expect(await db.select().from(webhookOutbox)).toEqual([]);
    expect((await db.select().from(partnerSubjects)).map((row) => row.userId).sort()).toEqual(
      [consenting, erasing].sort(),
    );
    const requests = await db.select().from(erasureRequests);
    expect(requests.map((row) => [row.userId, row.status])).toEqual([[erasing, "pending"]]);
    expect(await db.select().from(destructionRecords)).toEqual([]);

    // The revoked consent's history is gone; the granted one's is whole (grant, revoke, grant).
    expect(await listConsentHistory(db, revoked)).toEqual([]);
    expect((await listConsents(db, revoked)).every((c) => c.state === "none")).toBe(true);
    const kept = await db.select().from(consentEvents).where(eq(consentEvents.userId, consenting));
    expect(kept.map((row) => `${row.purpose}:${row.action}`).sort()).toEqual([
      "intercom:grant",
      "journal:grant",
    ]);

    // A second run finds nothing more.
    const again = await pruneExpired(db, { cuts: retentionCuts(NOW_PERIODS, new Date()) });
    expect(Object.values(again).every((n) => n === 0)).toBe(true);
  });

  test("periods are honoured: rows younger than their period stay, and batches go oldest first", async () => {
    const { db } = await freshDatabase();
    for (const [i, days] of [40, 20, 35, 10].entries())
      await recordVpnEvent(db, {
        at: ago(days * DAY),
        iface: "wg0",
        peerFingerprint: `00000000000000f${i}`,
        endpointIp: null,
        kind: "connected",
        rxBytes: 0,
        txBytes: 0,
      });
    const periods = { ...NOW_PERIODS, VPN_EVENT_RETENTION_DAYS: 30 };
    const counts = await pruneExpired(db, {
      cuts: retentionCuts(periods, new Date()),
      batchSize: 1,
    });
    expect(counts.vpnEvents).toBe(2);
    const left = await db.select({ fp: vpnEvents.peerFingerprint }).from(vpnEvents);
    expect(left.map((row) => row.fp).sort()).toEqual(["00000000000000f1", "00000000000000f3"]);
  });

  test("a journal kept 90 days keeps its pending messages; delivered ones go after their own period", async () => {
    const { db } = await freshDatabase();
    const userId = newUserId();
    const delivered = await journalWithMessages(db, userId);
    const periods = { ...NOW_PERIODS, JOURNAL_RETENTION_DAYS: 90 };
    const counts = await pruneExpired(db, { cuts: retentionCuts(periods, new Date()) });
    expect(counts).toMatchObject({ journalEntries: 0, webhookMessages: 1 });
    const left = await db.select().from(webhookOutbox);
    expect(left.map((row) => row.status)).toEqual(["pending"]);
    expect(left.some((row) => row.id === delivered)).toBe(false);
    expect(await db.select().from(journalEntries)).toHaveLength(2);
  });

  test("a cut after now is refused, naming it, and nothing is deleted", async () => {
    const { db } = await freshDatabase();
    await anomalyAndBlocks(db, "198.51.100.10");
    const cuts = retentionCuts(NOW_PERIODS, new Date());
    const error = await pruneExpired(db, {
      cuts: { ...cuts, blocks: new Date(Date.now() + DAY) },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).issues.join()).toContain("blocks");
    expect(await db.select().from(blocks)).toHaveLength(3);
    expect(await db.select().from(anomalies)).toHaveLength(1);
  });
});

describe("one retention run at a time", () => {
  // PGlite: one process holds the database, so there is no second run to keep out.
  test.if(Boolean(process.env.DATABASE_URL))(
    "a second run while one holds the lock does nothing and says so",
    async () => {
      const handle = await freshDatabase();
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered: () => void = () => {};
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const first = withRetentionLock(handle, async () => {
        entered();
        await held;
        return "first";
      });
      await inside;
      const second = await withRetentionLock(handle, async () => "second").catch((e: unknown) => e);
      expect(second).toBeInstanceOf(RetentionRunningError);
      release();
      expect(await first).toBe("first");
      expect(await withRetentionLock(handle, async () => "third")).toBe("third");
    },
  );

  test("lastRetentionRun reads the last successful run's audit row", async () => {
    const { db } = await freshDatabase();
    expect(await lastRetentionRun(db)).toBeNull();
    const run = { sourceApp: "cli", instanceId: "host-1", actor: "system:retention" };
    const ok = await recordAuditEvent(db, { ...run, kind: "retention.run", result: "ok" });
    await recordAuditEvent(db, { ...run, kind: "retention.run", result: "error" });
    expect((await lastRetentionRun(db))?.toISOString()).toBe(ok.at);
  });
});
