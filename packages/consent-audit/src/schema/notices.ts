import { sql } from "drizzle-orm";
import { check, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { PURPOSES, type Purpose } from "../purposes";
import { sqlInList } from "./sql-lists";

/** Published consent notices; a grant names the version the resident saw. Seeded by migration. */
export const notices = pgTable(
  "notices",
  {
    purpose: text().$type<Purpose>().notNull(),
    version: integer().notNull(),
    text: text().notNull(),
    textSha256: text().notNull(),
    publishedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "notices_pk", columns: [t.purpose, t.version] }),
    check("notices_purpose_ck", sql`${t.purpose} in ${sqlInList(PURPOSES)}`),
    check("notices_version_ck", sql`${t.version} > 0`),
  ],
);
