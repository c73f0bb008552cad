import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import {
  ERASURE_CATEGORIES,
  ERASURE_REASONS,
  ERASURE_STATUSES,
  type ErasureCategory,
  type ErasureReason,
  type ErasureStatus,
  PARTNERS,
  type Partner,
} from "../purposes";
import { sqlInList, sqlTextArray } from "./sql-lists";

/** Counts the partner reports as erased, per category. Never the erased data itself. */
export type ErasedCounts = Partial<Record<ErasureCategory, number>>;

/**
 * Durable outbox of erasures to send to partners (152-FZ: revoked faces/plates must be destroyed
 * at the partner, and we must prove it). A worker claims due rows by leasing `next_attempt_at`;
 * `last_error` holds a short code only, never partner text.
 */
export const erasureRequests = pgTable(
  "erasure_requests",
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    partner: text().$type<Partner>().notNull(),
    categories: text().array().$type<ErasureCategory[]>().notNull(),
    reason: text().$type<ErasureReason>().notNull(),
    requestedBy: text().notNull(),
    requestedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    status: text().$type<ErasureStatus>().notNull().default("pending"),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    lastError: text(),
    completedAt: timestamp({ withTimezone: true }),
    partnerResponse: jsonb().$type<ErasedCounts>(),
    /** When the request passed ERASURE_DEADLINE_DAYS without the partner confirming it. */
    overdueSince: timestamp({ withTimezone: true }),
  },
  (t) => [
    index("erasure_requests_due_idx").on(t.status, t.nextAttemptAt),
    index("erasure_requests_user_idx").on(t.userId, t.requestedAt),
    index("erasure_requests_requested_idx").on(t.requestedAt),
    // The retention job's walk over confirmed requests, oldest first.
    index("erasure_requests_done_idx").on(t.completedAt).where(sql`${t.status} = 'done'`),
    check("erasure_requests_partner_ck", sql`${t.partner} in ${sqlInList(PARTNERS)}`),
    check("erasure_requests_reason_ck", sql`${t.reason} in ${sqlInList(ERASURE_REASONS)}`),
    check("erasure_requests_status_ck", sql`${t.status} in ${sqlInList(ERASURE_STATUSES)}`),
    check(
      "erasure_requests_categories_ck",
      sql`cardinality(${t.categories}) > 0 and ${t.categories} <@ ${sqlTextArray(ERASURE_CATEGORIES)}`,
    ),
    // Done or accepted: the partner acknowledged it at `completed_at`.
    check(
      "erasure_requests_done_ck",
      sql`(${t.status} <> 'pending') = (${t.completedAt} is not null)`,
    ),
    check("erasure_requests_attempts_ck", sql`${t.attempts} >= 0`),
  ],
);
