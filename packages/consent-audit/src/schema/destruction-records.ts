import { sql } from "drizzle-orm";
import { check, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import {
  DESTRUCTION_CONFIRMATIONS,
  type DestructionConfirmation,
  ERASURE_CATEGORIES,
  type ErasureCategory,
  PARTNERS,
  type Partner,
} from "../purposes";
import type { ErasedCounts } from "./erasure-requests";
import { sqlInList, sqlTextArray } from "./sql-lists";

/**
 * One row per erasure a partner confirmed (RKN Order No. 179: the act of destruction and its log
 * extract). It keeps the user id on purpose: an inspection must see whose data was destroyed.
 * Kept DESTRUCTION_RECORD_YEARS (3) from `destroyed_at`, longer than the data it speaks of.
 */
export const destructionRecords = pgTable(
  "destruction_records",
  {
    id: text().primaryKey(),
    erasureId: text().notNull().unique(),
    userId: text().notNull(),
    partner: text().$type<Partner>().notNull(),
    categories: text().array().$type<ErasureCategory[]>().notNull(),
    confirmedBy: text().$type<DestructionConfirmation>().notNull(),
    /** When the partner confirmed it (its `completedAt` on a poll, when it gave one). */
    destroyedAt: timestamp({ withTimezone: true }).notNull(),
    requestedAt: timestamp({ withTimezone: true }).notNull(),
    recordedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    erased: jsonb().$type<ErasedCounts>(),
  },
  (t) => [
    index("destruction_records_destroyed_idx").on(t.destroyedAt),
    index("destruction_records_user_idx").on(t.userId),
    check("destruction_records_partner_ck", sql`${t.partner} in ${sqlInList(PARTNERS)}`),
    check(
      "destruction_records_confirmed_ck",
      sql`${t.confirmedBy} in ${sqlInList(DESTRUCTION_CONFIRMATIONS)}`,
    ),
    check(
      "destruction_records_categories_ck",
      sql`cardinality(${t.categories}) > 0 and ${t.categories} <@ ${sqlTextArray(ERASURE_CATEGORIES)}`,
    ),
  ],
);
