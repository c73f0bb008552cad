import { sql } from "drizzle-orm";
import {
  check,
  foreignKey,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";
import {
  CONSENT_ACTIONS,
  CONSENT_CHANNELS,
  CONSENT_STATES,
  type ConsentAction,
  type ConsentChannel,
  type ConsentStoredState,
  PURPOSES,
  type Purpose,
} from "../purposes";
import { notices } from "./notices";
import { sqlInList } from "./sql-lists";

/** Append-only history of every grant and revoke (the evidence of consent). */
export const consentEvents = pgTable(
  "consent_events",
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    purpose: text().$type<Purpose>().notNull(),
    action: text().$type<ConsentAction>().notNull(),
    noticeVersion: integer(),
    channel: text().$type<ConsentChannel>().notNull(),
    method: text().notNull(),
    actor: text().notNull(),
    reason: text(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("consent_events_user_idx").on(t.userId, t.purpose, t.at),
    foreignKey({
      name: "consent_events_notice_fk",
      columns: [t.purpose, t.noticeVersion],
      foreignColumns: [notices.purpose, notices.version],
    }),
    check("consent_events_purpose_ck", sql`${t.purpose} in ${sqlInList(PURPOSES)}`),
    check("consent_events_action_ck", sql`${t.action} in ${sqlInList(CONSENT_ACTIONS)}`),
    check("consent_events_channel_ck", sql`${t.channel} in ${sqlInList(CONSENT_CHANNELS)}`),
    check(
      "consent_events_grant_notice_ck",
      sql`${t.action} <> 'grant' or ${t.noticeVersion} is not null`,
    ),
  ],
);

/** The current state per (user, purpose), written in the same transaction as the history row. */
export const consentCurrent = pgTable(
  "consent_current",
  {
    userId: text().notNull(),
    purpose: text().$type<Purpose>().notNull(),
    state: text().$type<ConsentStoredState>().notNull(),
    noticeVersion: integer(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "consent_current_pk", columns: [t.userId, t.purpose] }),
    foreignKey({
      name: "consent_current_notice_fk",
      columns: [t.purpose, t.noticeVersion],
      foreignColumns: [notices.purpose, notices.version],
    }),
    check("consent_current_purpose_ck", sql`${t.purpose} in ${sqlInList(PURPOSES)}`),
    check("consent_current_state_ck", sql`${t.state} in ${sqlInList(CONSENT_STATES)}`),
  ],
);
