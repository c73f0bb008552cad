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
    /**
     * Pairs a `partner.request` with its `partner.response`. Not indexed (migration 0033): no
     * screen or job looks rows up by it, and a random key's index costs every insert a write.
     */
    callId: text(),
    /** Why an admin acted (required of admin actions); null on every other row. */
    reason: text(),
    /**
     * The W3C trace id (32 hex) of the request that wrote the row, when it was traced: an auditor
     * goes from the row to its trace. Not personal; redaction keeps it.
     */
    traceId: text(),
    prevHash: text().notNull(),
    hash: text().notNull(),
    /**
     * The signed redaction record (`audit_redactions`) that removed the row's personal fields;
     * null while the row is whole (docs/architecture.md, "Retention and audit redaction").
     */
    redactionId: text(),
    /** sha256 hex of `hash` + the canonical content after redaction: what verify checks instead. */
    redactedDigest: text(),
  },
  (t) => [
    unique("audit_events_chain_uq").on(t.chainId, t.chainSeq),
    index("audit_events_user_idx").on(t.userId, t.seq),
    index("audit_events_kind_idx").on(t.kind, t.seq),
    index("audit_events_operation_idx").on(t.operation, t.seq),
    // The admin audit screen's selective filters, with the reading order (keyset on seq). Partner
    // (two values) is dense: the walk down `seq` finds a page within few rows.
    index("audit_events_target_idx").on(t.target, t.seq),
    index("audit_events_result_idx").on(t.result, t.seq),
    // A time range far from the newest rows: rows arrive in `at` order, so a block range index
    // finds them in a few pages where the walk down `seq` would read every newer row. A few
    // bytes per 128 pages, next to nothing per insert; ranges are summarized as they fill.
    index("audit_events_at_brin").using("brin", t.at).with({ autosummarize: true }),
    // Retention walks the rows still holding a field it may remove, oldest first; redacted rows
    // leave this index, so a run reads the rows it redacts and the fresh ones, not the whole log.
    index("audit_events_unredacted_idx")
      .on(t.seq)
      .where(
        sql`${t.redactionId} is null and (${t.userId} is not null or ${t.clientIp} is not null or ${t.target} is not null or ${t.actor} is not null)`,
      ),
    // Verify regroups each redaction record's rows; whole rows (null) stay out of it.
    index("audit_events_redaction_idx")
      .on(t.redactionId, t.chainSeq)
      .where(sql`${t.redactionId} is not null`),
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
    check("audit_events_trace_id_ck", sql`${t.traceId} is null or ${t.traceId} ~ '^[0-9a-f]{32}$'`),
    check(
      "audit_events_purpose_ck",
      sql`${t.purpose} is null or ${t.purpose} in ${sqlInList(PURPOSES)}`,
    ),
  ],
);
