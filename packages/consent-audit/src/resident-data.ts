import { UserId } from "@propgate/domain";
import { and, count, desc, eq, inArray, isNotNull, min, sql } from "drizzle-orm";
import type { AuditEvent } from "./audit";
import { type Anomaly, type Block, listAnomalies, listBlocks } from "./blocks";
import { type ConsentState, listConsents } from "./consent";
import type { Database } from "./database";
import { type ErasureRequest, listErasures } from "./erasure";
import { type AdminGuestKey, listKeysForAdmin } from "./guest-keys-admin";
import type { DestructionConfirmation, ErasureCategory, Partner, Purpose } from "./purposes";
import { auditEvents } from "./schema/audit-events";
import { consentEvents } from "./schema/consent";
import { destructionRecords } from "./schema/destruction-records";
import type { ErasedCounts } from "./schema/erasure-requests";
import { guestKeys } from "./schema/guest-keys";
import { journalEntries, unitResidents, units } from "./schema/journal";
import { notices } from "./schema/notices";
import { partnerSubjects } from "./schema/partner-subjects";
import { videoSessions } from "./schema/video-sessions";
import { parseInput } from "./validation";
import { listLiveVideoSessions, type VideoSession } from "./video-sessions";

/*
 * Everything Propgate holds about one resident, for their privacy report (152-FZ art. 14):
 * read by user id only, so no other resident's row can enter it. Every list is bounded, so a
 * resident with 100,000 audit rows gets a report of the same size as one with 1,000.
 */

/** Audit rows shown whole; the rest are counted by kind and month. */
export const RESIDENT_AUDIT_ROWS = 100;
/** Consent changes shown whole (a resident makes a few; a toggling script is counted). */
const CONSENT_HISTORY_ROWS = 1000;
/** Erasures, destruction records, blocks and anomalies shown whole. */
const LIST_ROWS = 500;

/** One grant or revoke: the notice it accepted (version and text digest), when, how, by whom. */
export interface ResidentConsentEvent {
  id: string;
  purpose: Purpose;
  action: "grant" | "revoke";
  noticeVersion: number | null;
  noticeSha256: string | null;
  channel: string;
  method: string;
  /** The resident's id, or `admin:<id>` for an operator's revoke. */
  actor: string;
  reason: string | null;
  at: string;
}

/** A partner that holds a pseudonym of the resident, and the sites it was told with it. */
export interface ResidentPseudonym {
  partner: Partner;
  subject: string;
  sites: string[];
  updatedAt: string;
}

/** How many requests of one kind went to (or came from) a partner in one month (UTC). */
export interface MonthlyCount {
  month: string;
  kind: string;
  partner: string | null;
  purpose: string | null;
  operation: string | null;
  count: number;
}

export interface ResidentDestructionRecord {
  id: string;
  erasureId: string;
  partner: Partner;
  categories: ErasureCategory[];
  confirmedBy: DestructionConfirmation;
  destroyedAt: string;
  requestedAt: string;
  erased: ErasedCounts | null;
}

export interface ResidentUnit {
  unitId: string;
  /** Null when the unit left the registry after the resident's token last named it. */
  partner: string | null;
  partnerUnitId: string | null;
  siteId: string | null;
  confirmedAt: string;
}

export interface ResidentData {
  consents: {
    current: ConsentState[];
    /** Newest first; at most 1,000 (`historyTotal` counts them all). */
    history: ResidentConsentEvent[];
    historyTotal: number;
  };
  partners: {
    pseudonyms: ResidentPseudonym[];
    /** `partner.request` (sent), `partner.access_check` and `partner.event` rows per month. */
    monthly: MonthlyCount[];
  };
  audit: {
    total: number;
    /** The newest `RESIDENT_AUDIT_ROWS`, whole; another person's client address left out. */
    newest: AuditEvent[];
    /** Every row of theirs counted by kind and month (UTC), the newest ones included. */
    byKindAndMonth: { month: string; kind: string; count: number }[];
  };
  videoSessions: { live: Omit<VideoSession, "sessionPath" | "userId">[]; kept: KeptCount };
  guestKeys: { inForce: Omit<AdminGuestKey, "userId">[]; ended: KeptCount };
  journal: KeptCount;
  erasures: {
    requests: Omit<ErasureRequest, "userId">[];
    destructionRecords: ResidentDestructionRecord[];
  };
  /** Blocks on the resident (`resident`, `resident_keys`) and the anomalies naming them. */
  blocks: Block[];
  anomalies: Anomaly[];
  units: ResidentUnit[];
}

/** Rows kept of a kind, and the oldest one's time. */
export interface KeptCount {
  count: number;
  oldest: string | null;
}

const iso = (value: Date | null | undefined): string | null => value?.toISOString() ?? null;

/** `YYYY-MM` of an audit row's time, in UTC. */
const month = sql<string>`to_char(${auditEvents.at} at time zone 'UTC', 'YYYY-MM')`;

const RESIDENT_SUBJECTS = ["resident", "resident_keys"] as const;

async function kept(query: Promise<{ n: number; oldest: Date | null }[]>): Promise<KeptCount> {
  const [row] = await query;
  return { count: row?.n ?? 0, oldest: iso(row?.oldest) };
}

/** The audit rows of the resident (their `user_id`): the newest whole, the rest counted. */
async function auditOf(db: Database, userId: string): Promise<ResidentData["audit"]> {
  const mine = eq(auditEvents.userId, userId);
  const [rows, summary] = await Promise.all([
    db
      .select()
      .from(auditEvents)
      .where(mine)
      .orderBy(desc(auditEvents.seq))
      .limit(RESIDENT_AUDIT_ROWS),
    db
      .select({ month: month, kind: auditEvents.kind, count: count() })
      .from(auditEvents)
      .where(mine)
      .groupBy(sql`1`, auditEvents.kind)
      .orderBy(sql`1 desc`, auditEvents.kind),
  ]);
  return {
    total: summary.reduce((sum, row) => sum + row.count, 0),
    // Another person's address (an operator's, a partner's gateway) is not the resident's data.
    newest: rows.map((row) => ({
      ...row,
      at: row.at.toISOString(),
      clientIp: row.actor === userId ? row.clientIp : null,
    })),
    byKindAndMonth: summary,
  };
}

async function consentsOf(db: Database, userId: string): Promise<ResidentData["consents"]> {
  const mine = eq(consentEvents.userId, userId);
  const [current, history, [total]] = await Promise.all([
    listConsents(db, userId),
    db
      .select({
        id: consentEvents.id,
        purpose: consentEvents.purpose,
        action: consentEvents.action,
        noticeVersion: consentEvents.noticeVersion,
        noticeSha256: notices.textSha256,
        channel: consentEvents.channel,
        method: consentEvents.method,
        actor: consentEvents.actor,
        reason: consentEvents.reason,
        at: consentEvents.at,
      })
      .from(consentEvents)
      .leftJoin(
        notices,
        and(
          eq(notices.purpose, consentEvents.purpose),
          eq(notices.version, consentEvents.noticeVersion),
        ),
      )
      .where(mine)
      .orderBy(desc(consentEvents.at), desc(consentEvents.id))
      .limit(CONSENT_HISTORY_ROWS),
    db.select({ n: count() }).from(consentEvents).where(mine),
  ]);
  return {
    current,
    history: history.map((row) => ({ ...row, at: row.at.toISOString() })),
    historyTotal: total?.n ?? 0,
  };
}

async function partnersOf(db: Database, userId: string): Promise<ResidentData["partners"]> {
  const [pseudonyms, monthly] = await Promise.all([
    db
      .select()
      .from(partnerSubjects)
      .where(eq(partnerSubjects.userId, userId))
      .orderBy(partnerSubjects.partner, partnerSubjects.subject),
    db
      .select({
        month: month,
        kind: auditEvents.kind,
        partner: auditEvents.partner,
        purpose: auditEvents.purpose,
        operation: auditEvents.operation,
        count: count(),
      })
      .from(auditEvents)
      .where(
        and(
          eq(auditEvents.userId, userId),
          isNotNull(auditEvents.partner),
          inArray(auditEvents.kind, ["partner.request", "partner.access_check", "partner.event"]),
        ),
      )
      .groupBy(
        sql`1`,
        auditEvents.kind,
        auditEvents.partner,
        auditEvents.purpose,
        auditEvents.operation,
      )
      .orderBy(sql`1 desc`, auditEvents.partner, auditEvents.kind, auditEvents.operation),
  ]);
  return {
    pseudonyms: pseudonyms.map((row) => ({
      partner: row.partner,
      subject: row.subject,
      sites: row.sites,
      updatedAt: row.updatedAt.toISOString(),
    })),
    monthly,
  };
}

async function erasuresOf(db: Database, userId: string): Promise<ResidentData["erasures"]> {
  const [requests, records] = await Promise.all([
    listErasures(db, { userId, limit: LIST_ROWS }),
    db
      .select()
      .from(destructionRecords)
      .where(eq(destructionRecords.userId, userId))
      .orderBy(desc(destructionRecords.destroyedAt))
      .limit(LIST_ROWS),
  ]);
  return {
    requests: requests.map(({ userId: _user, ...request }) => request),
    destructionRecords: records.map((row) => ({
      id: row.id,
      erasureId: row.erasureId,
      partner: row.partner,
      categories: row.categories,
      confirmedBy: row.confirmedBy,
      destroyedAt: row.destroyedAt.toISOString(),
      requestedAt: row.requestedAt.toISOString(),
      erased: row.erased,
    })),
  };
}

async function unitsOf(db: Database, userId: string): Promise<ResidentUnit[]> {
  const rows = await db
    .select({
      unitId: unitResidents.unitId,
      partner: units.partner,
      partnerUnitId: units.partnerUnitId,
      siteId: units.siteId,
      confirmedAt: unitResidents.confirmedAt,
    })
    .from(unitResidents)
    .leftJoin(units, eq(units.id, unitResidents.unitId))
    .where(eq(unitResidents.userId, userId))
    .orderBy(unitResidents.unitId);
  return rows.map((row) => ({ ...row, confirmedAt: row.confirmedAt.toISOString() }));
}

/** Blocks on the resident and the anomalies naming them, newest first (never an address's). */
async function watchOf(db: Database, userId: string) {
  const onResident = (subjectType: (typeof RESIDENT_SUBJECTS)[number]) => ({
    subjectType,
    subjectId: userId,
    limit: LIST_ROWS,
  });
  const [blocks, anomalies] = await Promise.all([
    Promise.all(RESIDENT_SUBJECTS.map((type) => listBlocks(db, onResident(type)))),
    Promise.all(RESIDENT_SUBJECTS.map((type) => listAnomalies(db, onResident(type)))),
  ]);
  return {
    blocks: blocks.flat().sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    anomalies: anomalies.flat().sort((a, b) => b.lastSeen.localeCompare(a.lastSeen)),
  };
}

/**
 * Everything held about `userId`, each part read by the resident's id alone. Run it in one
 * transaction (`withStatementTimeout`) for one view of the data and bounded statements.
 */
export async function collectResidentData(db: Database, userId: string): Promise<ResidentData> {
  const id = parseInput(UserId, userId, "user id");
  const [consents, partners, audit, live, keys, erasures, watch, memberships] = await Promise.all([
    consentsOf(db, id),
    partnersOf(db, id),
    auditOf(db, id),
    listLiveVideoSessions(db, id),
    listKeysForAdmin(db, id),
    erasuresOf(db, id),
    watchOf(db, id),
    unitsOf(db, id),
  ]);
  const [sessionsKept, keysEnded, journal] = await Promise.all([
    kept(
      db
        .select({ n: count(), oldest: min(videoSessions.createdAt) })
        .from(videoSessions)
        .where(eq(videoSessions.userId, id)),
    ),
    kept(
      db
        .select({ n: count(), oldest: min(guestKeys.createdAt) })
        .from(guestKeys)
        .where(and(eq(guestKeys.userId, id), eq(guestKeys.state, "ended"))),
    ),
    kept(
      db
        .select({ n: count(), oldest: min(journalEntries.occurredAt) })
        .from(journalEntries)
        .where(eq(journalEntries.userId, id)),
    ),
  ]);
  return {
    consents,
    partners,
    audit,
    videoSessions: {
      live: live.map(({ sessionPath: _path, userId: _user, ...session }) => session),
      kept: sessionsKept,
    },
    guestKeys: { inForce: keys.map(({ userId: _user, ...key }) => key), ended: keysEnded },
    journal,
    erasures,
    ...watch,
    units: memberships,
  };
}
