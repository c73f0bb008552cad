import {
  CALL_OUTCOMES,
  type CallOutcome,
  ENTRY_METHODS,
  type EntryMethod,
  PARTNER_EVENT_TYPES,
  PARTNERS,
  type Partner,
  type PartnerEventType,
  WEBHOOK_STATUSES,
  type WebhookStatus,
} from "@propgate/domain";
import { sql } from "drizzle-orm";
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
} from "drizzle-orm/pg-core";
import { sqlInList } from "./sql-lists";

/** Flats: tenant-core's unit id (the `units` claim) and the partner's id of the same flat. */
export const units = pgTable(
  "units",
  {
    id: text().primaryKey(),
    partner: text().$type<Partner>().notNull(),
    partnerUnitId: text().notNull(),
    siteId: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("units_partner_unit_uq").on(t.partner, t.partnerUnitId),
    check("units_partner_ck", sql`${t.partner} in ${sqlInList(PARTNERS)}`),
  ],
);

/** Who lives in a unit, as their token last said (`confirmed_at`); stale rows address no one. */
export const unitResidents = pgTable(
  "unit_residents",
  {
    unitId: text().notNull(),
    userId: text().notNull(),
    confirmedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "unit_residents_pk", columns: [t.unitId, t.userId] }),
    index("unit_residents_user_idx").on(t.userId),
  ],
);

/** One row per partner event id: a retried post finds its row and is not journaled twice. */
export const partnerEventReceipts = pgTable(
  "partner_event_receipts",
  {
    partner: text().$type<Partner>().notNull(),
    partnerEventId: text().notNull(),
    receivedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    auditEventId: text().notNull(),
  },
  (t) => [
    primaryKey({ name: "partner_event_receipts_pk", columns: [t.partner, t.partnerEventId] }),
    index("partner_event_receipts_received_idx").on(t.receivedAt),
    check("partner_event_receipts_partner_ck", sql`${t.partner} in ${sqlInList(PARTNERS)}`),
    check("partner_event_receipts_id_ck", sql`char_length(${t.partnerEventId}) <= 128`),
  ],
);

/**
 * A resident's journal: what happened at their doors, one row per resident, kept while their
 * `journal` consent holds and for the retention. `seq` is the order, the page cursor and the
 * SSE event id. Opaque ids only: never a plate, a face, a name or a phone number.
 */
export const journalEntries = pgTable(
  "journal_entries",
  {
    seq: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    id: text().notNull().unique("journal_entries_id_uq"),
    userId: text().notNull(),
    kind: text().$type<PartnerEventType>().notNull(),
    deviceId: text(),
    /** The camera to watch while a call rings (our device id). */
    cameraId: text(),
    unitId: text(),
    method: text().$type<EntryMethod>(),
    outcome: text().$type<CallOutcome>(),
    durationSeconds: integer(),
    occurredAt: timestamp({ withTimezone: true }).notNull(),
    recordedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** The audit row of the partner event, or the call id of the resident's own open. */
    sourceEventId: text().notNull(),
  },
  (t) => [
    index("journal_entries_user_idx").on(t.userId, t.seq.desc()),
    index("journal_entries_user_device_idx").on(t.userId, t.deviceId, t.seq.desc()),
    // `events.list({ since })`: the range of a resident's (or their device's) recent rows, then a
    // small sort by seq. Without them a busy resident's "since yesterday" walked all their rows.
    index("journal_entries_user_occurred_idx").on(t.userId, t.occurredAt),
    index("journal_entries_user_device_occurred_idx").on(t.userId, t.deviceId, t.occurredAt),
    index("journal_entries_recorded_idx").on(t.recordedAt),
    check("journal_entries_kind_ck", sql`${t.kind} in ${sqlInList(PARTNER_EVENT_TYPES)}`),
    check(
      "journal_entries_method_ck",
      sql`${t.method} is null or ${t.method} in ${sqlInList(ENTRY_METHODS)}`,
    ),
    check(
      "journal_entries_outcome_ck",
      sql`${t.outcome} is null or ${t.outcome} in ${sqlInList(CALL_OUTCOMES)}`,
    ),
    check(
      "journal_entries_duration_ck",
      sql`${t.durationSeconds} is null or ${t.durationSeconds} >= 0`,
    ),
  ],
);

export { WEBHOOK_STATUSES, type WebhookStatus } from "@propgate/domain";

/**
 * Durable outbox of resident events for tenant-core's webhook (the erasure outbox pattern):
 * a worker leases due rows; `call.incoming` goes first (priority 0: a visitor is waiting).
 * Deleted with its journal row, so an erased journal sends nothing more.
 */
export const webhookOutbox = pgTable(
  "webhook_outbox",
  {
    seq: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    /** The Standard Webhooks `webhook-id` (`msg_…`): the receiver's key against duplicates. */
    id: text().notNull().unique("webhook_outbox_id_uq"),
    userId: text().notNull(),
    journalSeq: bigint({ mode: "number" })
      .notNull()
      .references(() => journalEntries.seq, { onDelete: "cascade" }),
    eventType: text().$type<PartnerEventType>().notNull(),
    /** Opaque ids only. */
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    priority: smallint().notNull(),
    status: text().$type<WebhookStatus>().notNull().default("pending"),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    leasedUntil: timestamp({ withTimezone: true }),
    /** A short code (`http_503`), never the receiver's text. */
    lastError: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    index("webhook_outbox_due_idx").on(t.status, t.priority, t.nextAttemptAt),
    index("webhook_outbox_user_pending_idx")
      .on(t.userId, t.seq)
      .where(sql`${t.status} = 'pending'`),
    index("webhook_outbox_journal_idx").on(t.journalSeq),
    // The retention job's walk over delivered messages, oldest first.
    index("webhook_outbox_delivered_idx").on(t.deliveredAt).where(sql`${t.status} = 'delivered'`),
    check("webhook_outbox_status_ck", sql`${t.status} in ${sqlInList(WEBHOOK_STATUSES)}`),
    check("webhook_outbox_event_type_ck", sql`${t.eventType} in ${sqlInList(PARTNER_EVENT_TYPES)}`),
    check("webhook_outbox_priority_ck", sql`${t.priority} in (0, 1)`),
    check("webhook_outbox_attempts_ck", sql`${t.attempts} >= 0`),
    check(
      "webhook_outbox_delivered_ck",
      sql`(${t.status} = 'delivered') = (${t.deliveredAt} is not null)`,
    ),
  ],
);
