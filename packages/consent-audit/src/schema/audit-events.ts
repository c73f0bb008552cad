import { AUDIT_KINDS, AUDIT_OPERATIONS, PARTNERS, PURPOSES } from "@propgate/domain";
import { sql } from "drizzle-orm";
import { bigserial, check, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { sqlInList } from "./sql-lists";

/**
 * Append-only, hash-chained audit log. `seq` is assigned by the writer under an advisory lock
 * (previous seq + 1), so the chain has no gaps even when a transaction rolls back; the
 * bigserial default only serves hand-written inserts.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    seq: bigserial({ mode: "number" }).notNull().unique("audit_events_seq_uq"),
    id: text().primaryKey(),
    at: timestamp({ withTimezone: true }).notNull(),
    kind: text().notNull(),
    sourceApp: text().notNull(),
    instanceId: text().notNull(),
    clientIp: text(),
    requestId: text(),
    userId: text(),
    actor: text(),
    operation: text(),
    partner: text(),
    purpose: text(),
    target: text(),
    attempt: integer(),
    result: text().notNull(),
    errorCode: text(),
    httpStatus: integer(),
    latencyMs: integer(),
    callId: text(),
    prevHash: text().notNull(),
    hash: text().notNull(),
  },
  (t) => [
    index("audit_events_user_idx").on(t.userId, t.seq),
    index("audit_events_kind_idx").on(t.kind, t.seq),
    index("audit_events_operation_idx").on(t.operation, t.seq),
    index("audit_events_call_idx").on(t.callId),
    // The vocabulary of docs/architecture.md: a row the code cannot write cannot be stored either.
    check("audit_events_kind_ck", sql`${t.kind} in ${sqlInList(AUDIT_KINDS)}`),
    check(
      "audit_events_operation_ck",
      sql`${t.operation} is null or ${t.operation} in ${sqlInList(AUDIT_OPERATIONS)}`,
    ),
    check(
      "audit_events_partner_ck",
      sql`${t.partner} is null or ${t.partner} in ${sqlInList(PARTNERS)}`,
    ),
    check(
      "audit_events_purpose_ck",
      sql`${t.purpose} is null or ${t.purpose} in ${sqlInList(PURPOSES)}`,
    ),
  ],
);
