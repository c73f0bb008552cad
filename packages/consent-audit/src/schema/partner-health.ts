import {
  bigserial,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

/**
 * What the health probe last saw of each partner check (`token`, `health`, `certificate`):
 * `ok`, `failing` (not yet alerted) or `firing`, and the last notification the alert webhook
 * accepted, so a restarted probe neither repeats nor forgets one.
 */
export const partnerHealth = pgTable(
  "partner_health",
  {
    partner: text().notNull(),
    check: text().notNull(),
    state: text().notNull(),
    consecutiveFailures: integer().notNull(),
    lastError: text(),
    since: timestamp({ withTimezone: true }).notNull(),
    notified: text(),
    updatedAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.partner, t.check] })],
);

/** Every change of a check's state, for the admins' recent transitions. Append-only. */
export const partnerHealthEvents = pgTable(
  "partner_health_events",
  {
    seq: bigserial({ mode: "number" }).primaryKey(),
    partner: text().notNull(),
    check: text().notNull(),
    fromState: text().notNull(),
    toState: text().notNull(),
    at: timestamp({ withTimezone: true }).notNull(),
    error: text(),
  },
  (t) => [index("partner_health_events_at_idx").on(t.at)],
);
