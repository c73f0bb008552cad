import { PARTNER_PURPOSES, PARTNERS, type Partner, type PartnerPurpose } from "@propgate/domain";
import { and, desc, eq, inArray, isNotNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import postgres from "postgres";
import { z } from "zod";
import { type Database, type DatabaseHandle, registeredMigrator, rowsOf } from "./database";
import { postgresConnection } from "./database-tls";
import { InvalidInputError } from "./errors";
import { pruneJournal } from "./journal-retention";
import { auditEvents } from "./schema/audit-events";
import { destructionRecords } from "./schema/destruction-records";
import { erasureRequests } from "./schema/erasure-requests";
import { guestKeys } from "./schema/guest-keys";
import { webhookOutbox } from "./schema/journal";
import { partnerSubjects } from "./schema/partner-subjects";
import { videoSessions } from "./schema/video-sessions";
import { vpnEvents } from "./schema/vpn-events";
import { anomalies, blocks } from "./schema/watch";
import { parseInput } from "./validation";

/**
 * What the retention job prunes, one count each (docs/data-retention.md). The audit rows'
 * personal fields are redacted apart (`redactAuditRows`): their rows stay in the chain.
 */
export const RETENTION_KINDS = [
  "anomalies",
  "blocks",
  "vpnEvents",
  "videoSessions",
  "guestKeys",
  "journalEntries",
  "partnerEventReceipts",
  "webhookMessages",
  "partnerSubjects",
  "erasureRequests",
  "consentHistory",
  "destructionRecords",
] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/** Rows deleted per kind (`consentHistory`: history rows of revoked consents). */
export type PruneCounts = Record<RetentionKind, number>;

/** The retention periods (`retentionEnv` of @propgate/config, as parsed). */
export interface RetentionPeriods {
  ANOMALY_RETENTION_DAYS: number;
  BLOCK_RETENTION_DAYS: number;
  VPN_EVENT_RETENTION_DAYS: number;
  VIDEO_SESSION_RETENTION_DAYS: number;
  GUEST_KEY_RETENTION_DAYS: number;
  JOURNAL_RETENTION_DAYS: number;
  WEBHOOK_DELIVERED_RETENTION_DAYS: number;
  PARTNER_SUBJECT_RETENTION_DAYS: number;
  ERASURE_REQUEST_RETENTION_DAYS: number;
  CONSENT_HISTORY_RETENTION_DAYS: number;
  AUDIT_PERSONAL_DATA_DAYS: number;
  DESTRUCTION_RECORD_YEARS: number;
}

/** Per kind, the instant before which its data may go; `auditPersonalData` for the redaction. */
export type RetentionCuts = Record<Exclude<RetentionKind, "partnerEventReceipts">, Date> & {
  auditPersonalData: Date;
};

const DAY_MS = 86_400_000;

/** The cuts of `periods` as of `now`: each `now` minus its period (calendar years for records). */
export function retentionCuts(periods: RetentionPeriods, now: Date): RetentionCuts {
  const days = (n: number) => new Date(now.getTime() - n * DAY_MS);
  const records = new Date(now);
  records.setUTCFullYear(records.getUTCFullYear() - periods.DESTRUCTION_RECORD_YEARS);
  return {
    anomalies: days(periods.ANOMALY_RETENTION_DAYS),
    blocks: days(periods.BLOCK_RETENTION_DAYS),
    vpnEvents: days(periods.VPN_EVENT_RETENTION_DAYS),
    videoSessions: days(periods.VIDEO_SESSION_RETENTION_DAYS),
    guestKeys: days(periods.GUEST_KEY_RETENTION_DAYS),
    journalEntries: days(periods.JOURNAL_RETENTION_DAYS),
    webhookMessages: days(periods.WEBHOOK_DELIVERED_RETENTION_DAYS),
    partnerSubjects: days(periods.PARTNER_SUBJECT_RETENTION_DAYS),
    erasureRequests: days(periods.ERASURE_REQUEST_RETENTION_DAYS),
    consentHistory: days(periods.CONSENT_HISTORY_RETENTION_DAYS),
    auditPersonalData: days(periods.AUDIT_PERSONAL_DATA_DAYS),
    destructionRecords: records,
  };
}

const cut = z.date();
const PruneInput = z.strictObject({
  cuts: z.strictObject({
    anomalies: cut,
    blocks: cut,
    vpnEvents: cut,
    videoSessions: cut,
    guestKeys: cut,
    journalEntries: cut,
    webhookMessages: cut,
    partnerSubjects: cut,
    erasureRequests: cut,
    consentHistory: cut,
    auditPersonalData: cut,
    destructionRecords: cut,
  }),
  now: z.date(),
  batchSize: z.number().int().min(1).max(100_000),
  partnerPurposes: z.record(z.enum(PARTNERS), z.array(z.enum([...PARTNER_PURPOSES, "journal"]))),
});

export interface PruneOptions {
  cuts: RetentionCuts;
  /** The job's clock: no cut may lie after it (a cut in the future would prune live data). */
  now?: Date;
  batchSize?: number;
  /**
   * The consent purposes whose calls reach each partner (or whose events it sends): a resident
   * holding one keeps their subject at that partner. Default: every purpose for every partner.
   */
  partnerPurposes?: Partial<Record<Partner, ReadonlyArray<PartnerPurpose | "journal">>>;
}

/**
 * Deletes what has outlived its retention, kind by kind, in batches of `batchSize`, oldest
 * first; never anything live — a block in force, a video session not ended, a key still valid
 * or still ending, an erasure the partner has not confirmed, a granted consent's history, the
 * pseudonym of a resident still consenting or with an erasure under way. Returns the counts.
 */
export async function pruneExpired(db: Database, options: PruneOptions): Promise<PruneCounts> {
  const now = options.now ?? new Date();
  const input = parseInput(
    PruneInput,
    {
      cuts: options.cuts,
      now,
      batchSize: options.batchSize ?? 5000,
      partnerPurposes: {
        ...Object.fromEntries(PARTNERS.map((p) => [p, [...PARTNER_PURPOSES, "journal"]])),
        ...options.partnerPurposes,
      },
    },
    "retention run",
  );
  const late = Object.entries(input.cuts).filter(([, at]) => at.getTime() > now.getTime());
  if (late.length > 0)
    throw new InvalidInputError("invalid retention run", [
      `cuts: ${late.map(([kind]) => kind).join(", ")} after now: that would prune live data`,
    ]);
  const { cuts, batchSize: batch } = input;
  const counts = Object.fromEntries(RETENTION_KINDS.map((k) => [k, 0])) as PruneCounts;

  counts.anomalies = await inBatches(batch, () =>
    deleteOldest(
      db,
      anomalies,
      anomalies.id,
      lt(anomalies.lastSeen, cuts.anomalies),
      anomalies.lastSeen,
      batch,
    ),
  );
  // Over: lifted, or expired, before the cut; a block in force ends after now, so never.
  const blockEnd = sql`coalesce(${blocks.liftedAt}, ${blocks.expiresAt})`;
  counts.blocks = await inBatches(batch, () =>
    deleteOldest(
      db,
      blocks,
      blocks.id,
      sql`${blockEnd} < ${cuts.blocks.toISOString()}::timestamptz`,
      blockEnd,
      batch,
    ),
  );
  counts.vpnEvents = await inBatches(batch, () =>
    deleteOldest(
      db,
      vpnEvents,
      vpnEvents.seq,
      lt(vpnEvents.at, cuts.vpnEvents),
      vpnEvents.at,
      batch,
    ),
  );
  counts.videoSessions = await inBatches(batch, () =>
    deleteOldest(
      db,
      videoSessions,
      videoSessions.id,
      and(isNotNull(videoSessions.endedAt), lt(videoSessions.endedAt, cuts.videoSessions)),
      videoSessions.endedAt,
      batch,
    ),
  );
  // Ended at the partner, or active past its validity (the partner lets it lapse by itself).
  const keyGone = or(
    and(eq(guestKeys.state, "ended"), lt(guestKeys.endedAt, cuts.guestKeys)),
    and(eq(guestKeys.state, "active"), lt(guestKeys.validUntil, cuts.guestKeys)),
  );
  const keyEnd = sql`coalesce(${guestKeys.endedAt}, ${guestKeys.validUntil})`;
  counts.guestKeys = await inBatches(batch, () =>
    deleteOldest(db, guestKeys, guestKeys.id, keyGone, keyEnd, batch),
  );
  // Delivered messages before the journal: those of entries still kept go after their own period.
  counts.webhookMessages = await inBatches(batch, () =>
    deleteOldest(
      db,
      webhookOutbox,
      webhookOutbox.seq,
      and(
        eq(webhookOutbox.status, "delivered"),
        lt(webhookOutbox.deliveredAt, cuts.webhookMessages),
      ),
      webhookOutbox.deliveredAt,
      batch,
    ),
  );
  for (;;) {
    const pruned = await pruneJournal(db, cuts.journalEntries, batch);
    counts.journalEntries += pruned.entries;
    counts.partnerEventReceipts += pruned.receipts;
    if (pruned.entries < batch && pruned.receipts < batch) break;
  }
  for (const partner of PARTNERS) {
    counts.partnerSubjects += await inBatches(batch, () =>
      pruneQuietSubjects(
        db,
        partner,
        input.partnerPurposes[partner] ?? [],
        cuts.partnerSubjects,
        batch,
      ),
    );
  }
  counts.erasureRequests = await inBatches(batch, () =>
    deleteOldest(
      db,
      erasureRequests,
      erasureRequests.id,
      and(
        eq(erasureRequests.status, "done"),
        lt(erasureRequests.completedAt, cuts.erasureRequests),
      ),
      erasureRequests.completedAt,
      batch,
    ),
  );
  counts.consentHistory = await pruneRevokedConsents(db, cuts.consentHistory, batch);
  counts.destructionRecords = await inBatches(batch, () =>
    deleteOldest(
      db,
      destructionRecords,
      destructionRecords.id,
      lt(destructionRecords.destroyedAt, cuts.destructionRecords),
      destructionRecords.destroyedAt,
      batch,
    ),
  );
  return counts;
}

/** Runs `step` until a batch comes back short; the rows it deleted in all. */
async function inBatches(batch: number, step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await step();
    total += deleted;
    if (deleted < batch) return total;
  }
}

/** Deletes up to `batch` rows of `table` matching `where`, oldest (`age`) first. */
async function deleteOldest(
  db: Database,
  table: PgTable,
  key: PgColumn,
  where: SQL | undefined,
  age: PgColumn | SQL,
  batch: number,
): Promise<number> {
  const oldest = db.select({ key }).from(table).where(where).orderBy(age).limit(batch);
  const deleted = await db.delete(table).where(inArray(key, oldest)).returning({ key });
  return deleted.length;
}

/**
 * Subjects at `partner` unused since the cut, of residents who hold no consent for its
 * `purposes` and have no erasure there under way (the partner may still need the pseudonym).
 */
async function pruneQuietSubjects(
  db: Database,
  partner: Partner,
  purposes: readonly string[],
  before: Date,
  batch: number,
): Promise<number> {
  const consenting =
    purposes.length === 0
      ? sql`false`
      : sql`exists (select 1 from consent_current c where c.user_id = ${partnerSubjects.userId}
          and c.state = 'granted' and c.purpose in (${sql.join(
            purposes.map((p) => sql`${p}`),
            sql`, `,
          )}))`;
  const erasing = sql`exists (select 1 from erasure_requests e where e.user_id = ${partnerSubjects.userId}
    and e.partner = ${partner} and e.status in ('pending', 'accepted'))`;
  const quiet = db
    .select({ partner: partnerSubjects.partner, subject: partnerSubjects.subject })
    .from(partnerSubjects)
    .where(
      and(
        eq(partnerSubjects.partner, partner),
        lt(partnerSubjects.updatedAt, before),
        sql`not ${consenting}`,
        sql`not ${erasing}`,
      ),
    )
    .orderBy(partnerSubjects.updatedAt)
    .limit(batch);
  const deleted = await db
    .delete(partnerSubjects)
    .where(sql`(${partnerSubjects.partner}, ${partnerSubjects.subject}) in ${quiet}`)
    .returning({ subject: partnerSubjects.subject });
  return deleted.length;
}

/**
 * The history of consents revoked before the cut: every grant and revoke up to the revocation,
 * and the revoked state row, in one statement per batch. A grant racing it writes a history row
 * after the revocation, which stays, and finds no state row to update, so inserts its own.
 */
async function pruneRevokedConsents(db: Database, before: Date, batch: number): Promise<number> {
  let events = 0;
  for (;;) {
    const [row] = rowsOf<{ states: number; events: number }>(
      await db.execute(sql`
        with old as (
          select user_id, purpose from consent_current
          where state = 'revoked' and updated_at < ${before.toISOString()}::timestamptz
          order by updated_at limit ${batch} for update skip locked
        ), gone as (
          delete from consent_current c using old
          where c.user_id = old.user_id and c.purpose = old.purpose and c.state = 'revoked'
          returning c.user_id, c.purpose, c.updated_at
        ), history as (
          delete from consent_events e using gone
          where e.user_id = gone.user_id and e.purpose = gone.purpose and e.at <= gone.updated_at
          returning 1
        )
        select (select count(*) from gone)::int as states, (select count(*) from history)::int as events`),
    );
    events += row?.events ?? 0;
    if ((row?.states ?? 0) < batch) return events;
  }
}

/** Key of the session advisory lock one retention run holds (one run at a time). */
const RETENTION_LOCK_KEY = 7_402_128;

export class RetentionRunningError extends Error {
  constructor() {
    super("another retention run holds the lock; this one did nothing");
  }
}

/**
 * Runs `run` while holding the retention lock: a session advisory lock on a connection of its
 * own (the run's statements use the pool), so two runs never overlap. A second run does not
 * wait: it throws RetentionRunningError. PGlite has one process, so no lock there.
 */
export async function withRetentionLock<T>(
  handle: DatabaseHandle,
  run: () => Promise<T>,
): Promise<T> {
  const target = registeredMigrator(handle.db);
  if (target?.kind !== "postgres") return run();
  const connection = postgresConnection(target.url, target.ca, target.password);
  const client = postgres(connection.url, { ...connection.options, max: 1, onnotice: () => {} });
  try {
    const [lock] = await client<{ held: boolean }[]>`
      select pg_try_advisory_lock(${RETENTION_LOCK_KEY}) as held`;
    if (!lock?.held) throw new RetentionRunningError();
    try {
      return await run();
    } finally {
      await client`select pg_advisory_unlock(${RETENTION_LOCK_KEY})`;
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** When the last retention run that succeeded ended (its `retention.run` audit row), or null. */
export async function lastRetentionRun(db: Database): Promise<Date | null> {
  const [row] = await db
    .select({ at: auditEvents.at })
    .from(auditEvents)
    .where(and(eq(auditEvents.kind, "retention.run"), eq(auditEvents.result, "ok")))
    .orderBy(desc(auditEvents.seq))
    .limit(1);
  return row?.at ?? null;
}
