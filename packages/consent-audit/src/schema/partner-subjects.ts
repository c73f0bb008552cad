import { sql } from "drizzle-orm";
import { check, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { PARTNERS, type Partner } from "../purposes";
import { sqlInList } from "./sql-lists";

/**
 * Which resident a partner's subject pseudonym stands for. The HMAC cannot be inverted, so the
 * api records the pair whenever it sends a subject to a partner, with the resident's sites at that
 * moment; the partner surface answers access checks from it.
 */
export const partnerSubjects = pgTable(
  "partner_subjects",
  {
    partner: text().$type<Partner>().notNull(),
    subject: text().notNull(),
    userId: text().notNull(),
    sites: text().array().notNull(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "partner_subjects_pk", columns: [t.partner, t.subject] }),
    index("partner_subjects_user_idx").on(t.userId),
    // The retention job's walk over a partner's pseudonyms, least recently used first.
    index("partner_subjects_updated_idx").on(t.partner, t.updatedAt),
    check("partner_subjects_partner_ck", sql`${t.partner} in ${sqlInList(PARTNERS)}`),
  ],
);
