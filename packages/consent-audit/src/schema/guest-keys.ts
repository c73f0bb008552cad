import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import {
  GUEST_KEY_END_REASONS,
  GUEST_KEY_STATES,
  type GuestKeyEndReason,
  type GuestKeyState,
  PARTNERS,
} from "../purposes";
import { sqlInList } from "./sql-lists";

/**
 * Guest keys a resident issued at a partner: what is needed to list, end and audit them — never
 * the code or the QR (they pass through to the resident once). The row is also the durable
 * queue that ends the key at the partner: `state = 'ending'` with `end_reason`, and a worker
 * sends `DELETE` until the partner confirms (`end_attempts`, `end_next_attempt_at`,
 * `end_last_error` — a short code, never partner text), then `ended`.
 */
export const guestKeys = pgTable(
  "guest_keys",
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    partner: text().notNull(),
    partnerKeyId: text().notNull(),
    siteId: text().notNull(),
    /** Our device ids (the partner's ids are looked up when needed). */
    deviceIds: text().array().notNull(),
    validFrom: timestamp({ withTimezone: true }).notNull(),
    validUntil: timestamp({ withTimezone: true }).notNull(),
    maxUses: integer(),
    /** The resident's own words for the key, minimised (≤ 40 characters, no control chars). */
    label: text(),
    state: text().$type<GuestKeyState>().notNull().default("active"),
    endReason: text().$type<GuestKeyEndReason>(),
    endRequestedAt: timestamp({ withTimezone: true }),
    endAttempts: integer().notNull().default(0),
    endNextAttemptAt: timestamp({ withTimezone: true }),
    endLastError: text(),
    endedAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** The resident's idempotency key of the create: a retried create finds the first key. */
    idempotencyKey: text(),
  },
  (t) => [
    index("guest_keys_user_active_idx").on(t.userId, t.createdAt).where(sql`${t.state} = 'active'`),
    index("guest_keys_end_due_idx").on(t.endNextAttemptAt).where(sql`${t.state} = 'ending'`),
    index("guest_keys_expiry_idx").on(t.validUntil).where(sql`${t.state} = 'active'`),
    // The retention job's walk over ended keys, oldest first.
    index("guest_keys_ended_idx").on(t.endedAt).where(sql`${t.state} = 'ended'`),
    uniqueIndex("guest_keys_idempotency_uq").on(t.userId, t.idempotencyKey),
    check("guest_keys_partner_ck", sql`${t.partner} in ${sqlInList(PARTNERS)}`),
    check("guest_keys_state_ck", sql`${t.state} in ${sqlInList(GUEST_KEY_STATES)}`),
    check(
      "guest_keys_end_reason_ck",
      sql`${t.endReason} is null or ${t.endReason} in ${sqlInList(GUEST_KEY_END_REASONS)}`,
    ),
    check(
      "guest_keys_ending_has_reason_ck",
      sql`${t.state} = 'active' or ${t.endReason} is not null`,
    ),
    check("guest_keys_ended_at_ck", sql`(${t.state} = 'ended') = (${t.endedAt} is not null)`),
    check("guest_keys_validity_ck", sql`${t.validUntil} > ${t.validFrom}`),
    check("guest_keys_devices_ck", sql`cardinality(${t.deviceIds}) between 1 and 20`),
    check("guest_keys_max_uses_ck", sql`${t.maxUses} is null or ${t.maxUses} > 0`),
    check("guest_keys_label_ck", sql`${t.label} is null or char_length(${t.label}) <= 40`),
    check("guest_keys_end_attempts_ck", sql`${t.endAttempts} >= 0`),
  ],
);
