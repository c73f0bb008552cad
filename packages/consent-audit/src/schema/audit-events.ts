import { AUDIT_KINDS, AUDIT_OPERATIONS, PARTNERS, PURPOSES } from "@propgate/domain";
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  unique,
} from "drizzle-orm/pg-core";
import { sqlInList } from "./sql-lists";

/**
 * Append-only, hash-chained audit log: one chain per writer (an api process from its start,
 * `chain_id`), so no lock spans the cluster. `chain_seq` runs 1, 2, 3 … within a chain without
 * gaps (the writer takes its chain's own advisory lock); `seq` is the global order for reading,
 * from the sequence, and may have gaps.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    seq: bigserial({ mode: "number" }).notNull().unique("audit_events_seq_uq"),
    chainId: text().notNull(),
    chainSeq: bigint({ mode: "number" }).notNull(),
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
    /** Why an admin acted (required of admin actions); null on every other row. */
    reason: text(),
    prevHash: text().notNull(),
    hash: text().notNull(),
  },
  (t) => [
    unique("audit_events_chain_uq").on(t.chainId, t.chainSeq),
    index("audit_events_user_idx").on(t.userId, t.seq),
    index("audit_events_kind_idx").on(t.kind, t.seq),
    index("audit_events_operation_idx").on(t.operation, t.seq),
    index("audit_events_call_idx").on(t.callId),
    // The admin audit screen's selective filters, with the reading order (keyset on seq). Partner
    // (two values) and time range are dense: the walk down `seq` finds a page within few rows.
    index("audit_events_target_idx").on(t.target, t.seq),
    index("audit_events_result_idx").on(t.result, t.seq),
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
