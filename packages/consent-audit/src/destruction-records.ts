import { and, asc, gte, lt, type SQL } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, contextFields, recordAuditEvent } from "./audit";
import { csvField } from "./csv";
import type { Database } from "./database";
import { InvalidInputError } from "./errors";
import type { DestructionConfirmation, ErasureCategory, Partner } from "./purposes";
import { destructionRecords } from "./schema/destruction-records";
import type { ErasedCounts } from "./schema/erasure-requests";
import { parseInput } from "./validation";

/** One erasure a partner confirmed: whose data, what, where, when, and on which answer. */
export interface DestructionRecord {
  id: string;
  erasureId: string;
  userId: string;
  partner: Partner;
  categories: ErasureCategory[];
  confirmedBy: DestructionConfirmation;
  /** ISO-8601 UTC. */
  destroyedAt: string;
  requestedAt: string;
  recordedAt: string;
  erased: ErasedCounts | null;
  /** ISO-8601 UTC: `destroyedAt` + DESTRUCTION_RECORD_YEARS, when the record itself may go. */
  keepUntil: string;
}

const RecordsQuery = z
  .strictObject({
    /** Destroyed at or after (inclusive). */
    from: z.date().optional(),
    /** Destroyed before (exclusive). */
    to: z.date().optional(),
    format: z.enum(["json", "csv"]),
    /** DESTRUCTION_RECORD_YEARS: how long a record is kept (RKN Order No. 179: 3 years). */
    keepYears: z.number().int().min(1).max(50),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: "from must be before to",
  });
export type DestructionRecordsQuery = z.input<typeof RecordsQuery>;

/** An inspection asks about a period; far more than this in one file means a narrower period. */
const MAX_RECORDS = 50_000;

const CSV_COLUMNS = [
  "id",
  "erasureId",
  "userId",
  "partner",
  "categories",
  "confirmedBy",
  "destroyedAt",
  "requestedAt",
  "recordedAt",
  "erased",
  "keepUntil",
] as const;

function toRecord(
  row: typeof destructionRecords.$inferSelect,
  keepYears: number,
): DestructionRecord {
  const keepUntil = new Date(row.destroyedAt);
  keepUntil.setUTCFullYear(keepUntil.getUTCFullYear() + keepYears);
  return {
    id: row.id,
    erasureId: row.erasureId,
    userId: row.userId,
    partner: row.partner,
    categories: row.categories,
    confirmedBy: row.confirmedBy,
    destroyedAt: row.destroyedAt.toISOString(),
    requestedAt: row.requestedAt.toISOString(),
    recordedAt: row.recordedAt.toISOString(),
    erased: row.erased,
    keepUntil: keepUntil.toISOString(),
  };
}

function csvCell(record: DestructionRecord, column: (typeof CSV_COLUMNS)[number]): string {
  const value = record[column];
  if (Array.isArray(value)) return csvField(value.join(","));
  if (value !== null && typeof value === "object") return csvField(JSON.stringify(value));
  return csvField(value);
}

/**
 * The destruction records destroyed in [`from`, `to`), oldest first, as JSON rows or RFC 4180
 * CSV (header, CRLF, every field quoted and formula-safe like the audit export). More than
 * 50,000 is refused: ask for a shorter period. The export is audited (`admin.erasures.records`,
 * the admin as actor, the period and format as `target`) before anything leaves.
 */
export async function exportDestructionRecords(
  db: Database,
  query: DestructionRecordsQuery,
  audit: AuditContext,
): Promise<
  { format: "json"; records: DestructionRecord[] } | { format: "csv"; csv: string; rows: number }
> {
  const q = parseInput(RecordsQuery, query, "destruction records query");
  const where: SQL[] = [];
  if (q.from !== undefined) where.push(gte(destructionRecords.destroyedAt, q.from));
  if (q.to !== undefined) where.push(lt(destructionRecords.destroyedAt, q.to));
  const rows = await db
    .select()
    .from(destructionRecords)
    .where(and(...where))
    .orderBy(asc(destructionRecords.destroyedAt), asc(destructionRecords.id))
    .limit(MAX_RECORDS + 1);
  if (rows.length > MAX_RECORDS) {
    throw new InvalidInputError("invalid destruction records query", [
      `more than ${MAX_RECORDS} records in the period: ask for a shorter one`,
    ]);
  }
  const records = rows.map((row) => toRecord(row, q.keepYears));
  await recordAuditEvent(db, {
    ...contextFields(audit),
    actor: audit.actor ?? null,
    kind: "admin.erasures.records",
    result: "ok",
    target: `${q.format}:${q.from?.toISOString() ?? ""}..${q.to?.toISOString() ?? ""}`,
  });
  if (q.format === "json") return { format: "json", records };
  const lines = [CSV_COLUMNS.map((name) => csvField(name)).join(",")];
  for (const record of records) {
    lines.push(CSV_COLUMNS.map((column) => csvCell(record, column)).join(","));
  }
  return { format: "csv", csv: `${lines.join("\r\n")}\r\n`, rows: records.length };
}
