import { bigserial, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

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
  ],
);
