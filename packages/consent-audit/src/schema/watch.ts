import { ANOMALY_KINDS, BLOCK_SUBJECT_TYPES } from "@propgate/domain";
import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp, unique } from "drizzle-orm/pg-core";
import { sqlInList } from "./sql-lists";

/**
 * Suspicious activity found by a rule (`packages/api/src/watch/rules.ts`): one row per rule,
 * subject and window, its count raised while the window lasts. Opaque ids only: a resident's user
 * id, a partner client id, or an IP address.
 */
export const anomalies = pgTable(
  "anomalies",
  {
    id: text().primaryKey(),
    kind: text().notNull(),
    subjectType: text().notNull(),
    subjectId: text().notNull(),
    windowStart: timestamp({ withTimezone: true }).notNull(),
    windowSeconds: integer().notNull(),
    /** What the rule counted (events, or distinct targets) when it fired, and since. */
    count: integer().notNull(),
    threshold: integer().notNull(),
    firstSeen: timestamp({ withTimezone: true }).notNull(),
    lastSeen: timestamp({ withTimezone: true }).notNull(),
    /** The block it caused; null when the rule only records, or the subject was blocked already. */
    blockId: text(),
  },
  (t) => [
    unique("anomalies_window_uq").on(t.kind, t.subjectType, t.subjectId, t.windowStart),
    index("anomalies_last_seen_idx").on(t.lastSeen),
    check("anomalies_kind_ck", sql`${t.kind} in ${sqlInList(ANOMALY_KINDS)}`),
    check("anomalies_subject_ck", sql`${t.subjectType} in ${sqlInList(BLOCK_SUBJECT_TYPES)}`),
  ],
);

/**
 * A subject refused for a while: a resident before any partner call, an IP before
 * authentication, a partner client on the whole surface. Lifted by an admin (with a reason) or
 * over when `expires_at` passes. Every instance holds the active ones in memory, reloaded on
 * `NOTIFY propgate_blocks`.
 */
export const blocks = pgTable(
  "blocks",
  {
    id: text().primaryKey(),
    subjectType: text().notNull(),
    subjectId: text().notNull(),
    /** The anomaly kind that caused it. */
    kind: text().notNull(),
    anomalyId: text(),
    /** 1 for a first block of this subject, 2 for the next …: the duration doubles each time. */
    offence: integer().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    liftedAt: timestamp({ withTimezone: true }),
    liftedBy: text(),
    liftReason: text(),
  },
  (t) => [
    index("blocks_subject_idx").on(t.subjectType, t.subjectId),
    index("blocks_expires_idx").on(t.expiresAt),
    check("blocks_kind_ck", sql`${t.kind} in ${sqlInList(ANOMALY_KINDS)}`),
    check("blocks_subject_ck", sql`${t.subjectType} in ${sqlInList(BLOCK_SUBJECT_TYPES)}`),
  ],
);
