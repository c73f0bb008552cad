import {
  AUDIT_KINDS,
  AUDIT_OPERATIONS,
  AUDIT_RESULTS,
  clientNetwork,
  PARTNERS,
} from "@propgate/domain";
import { and, asc, desc, eq, gt, gte, lt, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, type AuditEvent, recordAuditEvent } from "./audit";
import { csvField } from "./csv";
import type { Database } from "./database";
import { auditEvents } from "./schema/audit-events";
import { parseInput } from "./validation";

/** The admin audit screen's filters; every one optional, all of them ANDed. */
export const AuditFilter = z.strictObject({
  userId: z.string().min(1).max(128).optional(),
  /** The row's target: a device or camera id, a block id, erasure categories. */
  target: z.string().min(1).max(128).optional(),
  operation: z.enum(AUDIT_OPERATIONS).optional(),
  kind: z.enum(AUDIT_KINDS).optional(),
  /** The outcome as written: `ok`, `pending`, `denied`, `error`, `accepted` … */
  result: z.enum(AUDIT_RESULTS).optional(),
  partner: z.enum(PARTNERS).optional(),
  /** Rows at or after `from`, and before `to`. */
  from: z.date().optional(),
  to: z.date().optional(),
});
export type AuditFilter = z.input<typeof AuditFilter>;

/**
 * A place in the reading order (`seq`, newest first): `before:<seq>` pages to older rows,
 * `after:<seq>` to newer ones. A cursor holds no filter: it is used with the same filters.
 */
export const AuditCursor = z.string().regex(/^(before|after):[1-9][0-9]{0,15}$/);

const PageQuery = AuditFilter.extend({
  limit: z.number().int().min(1).max(500).default(50),
  cursor: AuditCursor.optional(),
});
export type AuditPageQuery = z.input<typeof PageQuery>;

export interface AuditPage {
  /** Newest first. */
  rows: AuditEvent[];
  /** The next page towards older rows, or null at the oldest. */
  nextCursor: string | null;
  /** The page towards newer rows, or null on the newest page. */
  prevCursor: string | null;
}

function conditions(filter: z.output<typeof AuditFilter>): SQL[] {
  const where: SQL[] = [];
  if (filter.userId !== undefined) where.push(eq(auditEvents.userId, filter.userId));
  if (filter.target !== undefined) where.push(eq(auditEvents.target, filter.target));
  if (filter.operation !== undefined) where.push(eq(auditEvents.operation, filter.operation));
  if (filter.kind !== undefined) where.push(eq(auditEvents.kind, filter.kind));
  if (filter.result !== undefined) where.push(eq(auditEvents.result, filter.result));
  if (filter.partner !== undefined) where.push(eq(auditEvents.partner, filter.partner));
  if (filter.from !== undefined) where.push(gte(auditEvents.at, filter.from));
  if (filter.to !== undefined) where.push(lt(auditEvents.at, filter.to));
  return where;
}

function toEvent(row: typeof auditEvents.$inferSelect): AuditEvent {
  return { ...row, at: row.at.toISOString() };
}

/** The row as a viewer sees it: its client address cut to the network (`198.51.x.x`). */
export function withClientNetwork(event: AuditEvent): AuditEvent {
  return event.clientIp === null ? event : { ...event, clientIp: clientNetwork(event.clientIp) };
}

/**
 * Where a time lies in the reading order, roughly: the first `seq` whose row is at or after `t`,
 * by a binary search down the seq index (a probe a step, at most 64), and the seq past the newest
 * row. Rows arrive in `at` order give or take a commit's reordering, so this only counts rows to
 * choose a plan: no page is ever filtered by it.
 */
async function seqAtOrAfter(db: Database, t: Date): Promise<{ seq: number; end: number }> {
  const time = t.toISOString();
  const rows = (await db.execute(sql`
    with recursive bounds as (
      select coalesce(min(seq), 0) as lo, coalesce(max(seq), 0) + 1 as hi from ${auditEvents}
    ), search(lo, hi, depth) as (
      select lo, hi, 0 from bounds
      union all
      select case when probe.at < ${time}::timestamptz then probe.seq + 1 else s.lo end,
        case when probe.at < ${time}::timestamptz then s.hi else (s.lo + s.hi) / 2 end,
        s.depth + 1
      from search s
      left join lateral (
        select seq, at from ${auditEvents}
        where seq >= (s.lo + s.hi) / 2 and seq < s.hi order by seq limit 1
      ) probe on true
      where s.lo < s.hi and s.depth < 64
    )
    select (select lo from search order by depth desc limit 1) as seq, (select hi from bounds) as "end"`)) as unknown as Array<{
    seq: string | number;
    end: string | number;
  }>;
  return { seq: Number(rows[0]?.seq ?? 0), end: Number(rows[0]?.end ?? 0) };
}

/**
 * Whether a time-filtered page reads the range's own rows (found by the block range index on
 * `at`) rather than walking down `seq` from the newest end. The walk reads every row newer than
 * the range before the first one in it, and the planner, which takes `at` and `seq` to be
 * unrelated, guesses it short; so count roughly (`seqAtOrAfter`) and choose: the range's rows
 * when they are few or no more than the rows after it.
 */
async function readsTimeRange(
  db: Database,
  filter: z.output<typeof AuditFilter>,
): Promise<boolean> {
  if (filter.from === undefined && filter.to === undefined) return false;
  const [from, to] = await Promise.all([
    filter.from === undefined ? null : seqAtOrAfter(db, filter.from),
    filter.to === undefined ? null : seqAtOrAfter(db, filter.to),
  ]);
  const end = (to ?? from)?.end ?? 0;
  const rangeEnd = to?.seq ?? end;
  const inRange = Math.max(0, rangeEnd - (from?.seq ?? 0));
  return inRange <= TIME_RANGE_ROWS || end - rangeEnd >= inRange;
}

/** A time range this small (in rows, roughly) is read whole wherever it lies. */
const TIME_RANGE_ROWS = 10_000;

async function anyRow(db: Database, where: SQL[]): Promise<boolean> {
  const [row] = await db
    .select({ seq: auditEvents.seq })
    .from(auditEvents)
    .where(and(...where))
    .limit(1);
  return row !== undefined;
}

/**
 * One page of the audit trail under `filter`, newest first, by keyset on `seq` (the global
 * reading order): each page is one walk down an index of (filter column, seq) or of seq, so a
 * page costs the same on the first and the thousandth page. Pages met going forward and back
 * are the same rows, with no gaps or repeats; rows appended meanwhile show up on the newest side.
 */
export async function pageAuditEvents(db: Database, query: AuditPageQuery): Promise<AuditPage> {
  const { limit, cursor, ...filter } = parseInput(PageQuery, query, "audit query");
  const where = conditions(filter);
  // Reading a time range's own rows, `seq + 0` keeps the planner off the walk down seq: it sorts
  // what the range index finds instead (the same rows in the same order).
  const seq = (await readsTimeRange(db, filter))
    ? sql<number>`(${auditEvents.seq} + 0)`
    : sql<number>`${auditEvents.seq}`;
  const [direction, at] = cursor ? (cursor.split(":") as ["before" | "after", string]) : [];
  const bound = at === undefined ? null : Number(at);
  if (direction === "after" && bound !== null) {
    const found = await db
      .select()
      .from(auditEvents)
      .where(and(...where, gt(seq, bound)))
      .orderBy(asc(seq))
      .limit(limit + 1);
    const rows = found.slice(0, limit).reverse().map(toEvent);
    const oldest = rows.at(-1)?.seq ?? bound + 1;
    const older = await anyRow(db, [...where, lt(seq, oldest)]);
    return {
      rows,
      nextCursor: older ? `before:${oldest}` : null,
      prevCursor: found.length > limit && rows[0] ? `after:${rows[0].seq}` : null,
    };
  }
  const found = await db
    .select()
    .from(auditEvents)
    .where(and(...where, bound === null ? undefined : lt(seq, bound)))
    .orderBy(desc(seq))
    .limit(limit + 1);
  const rows = found.slice(0, limit).map(toEvent);
  const oldest = rows.at(-1);
  // The first page is the newest; a later one has newer rows unless the cursor was made up.
  const newest = rows[0]?.seq ?? (bound === null ? null : bound - 1);
  const newer = newest !== null && (await anyRow(db, [...where, gt(seq, newest)]));
  return {
    rows,
    nextCursor: found.length > limit && oldest ? `before:${oldest.seq}` : null,
    prevCursor: newer ? `after:${newest}` : null,
  };
}

/** The CSV's columns, in order: every column of the audit table, nothing else. */
const CSV_COLUMNS = [
  ["seq", "seq"],
  ["at", "at"],
  ["chain_id", "chainId"],
  ["chain_seq", "chainSeq"],
  ["id", "id"],
  ["kind", "kind"],
  ["source_app", "sourceApp"],
  ["instance_id", "instanceId"],
  ["client_ip", "clientIp"],
  ["request_id", "requestId"],
  ["user_id", "userId"],
  ["actor", "actor"],
  ["operation", "operation"],
  ["partner", "partner"],
  ["purpose", "purpose"],
  ["target", "target"],
  ["attempt", "attempt"],
  ["result", "result"],
  ["error_code", "errorCode"],
  ["http_status", "httpStatus"],
  ["latency_ms", "latencyMs"],
  ["call_id", "callId"],
  ["reason", "reason"],
  ["trace_id", "traceId"],
  ["prev_hash", "prevHash"],
  ["hash", "hash"],
] as const satisfies readonly (readonly [string, keyof AuditEvent])[];

const ExportQuery = AuditFilter.extend({
  maxRows: z.number().int().min(1).max(50_000).default(50_000),
});
export type AuditExportQuery = z.input<typeof ExportQuery>;

/**
 * The rows under `filter` as CSV (RFC 4180: a header line, CRLF line ends, every field quoted),
 * newest first, at most `maxRows` (50,000); `truncated` when more rows matched. `clientIp`
 * `network` writes each row as `withClientNetwork` shows it (a viewer's export). The
 * export is itself audited, after the rows are read and before they are returned: an
 * `admin.audit.export` row with `audit` (the admin as `actor`), the filter's resident, target,
 * operation and partner, and `result` `ok` or `truncated`. If that row cannot be written, no
 * rows leave.
 */
export async function exportAuditCsv(
  db: Database,
  query: AuditExportQuery,
  audit: AuditContext,
  shown: { clientIp: "whole" | "network" },
): Promise<{ csv: string; rows: number; truncated: boolean }> {
  const { maxRows, ...filter } = parseInput(ExportQuery, query, "audit export");
  const where = conditions(filter);
  const lines = [CSV_COLUMNS.map(([name]) => csvField(name)).join(",")];
  let before: number | null = null;
  let rows = 0;
  let truncated = false;
  // In keyset batches, so no one statement holds 50,000 rows at once.
  for (;;) {
    const want = Math.min(5000, maxRows - rows);
    const batch: (typeof auditEvents.$inferSelect)[] = await db
      .select()
      .from(auditEvents)
      .where(and(...where, before === null ? undefined : lt(auditEvents.seq, before)))
      .orderBy(desc(auditEvents.seq))
      .limit(want + 1);
    for (const row of batch.slice(0, want)) {
      const event = shown.clientIp === "network" ? withClientNetwork(toEvent(row)) : toEvent(row);
      lines.push(CSV_COLUMNS.map(([, key]) => csvField(event[key])).join(","));
    }
    rows += Math.min(batch.length, want);
    const last = batch[want - 1];
    if (batch.length <= want || !last) break;
    if (rows >= maxRows) {
      truncated = true;
      break;
    }
    before = last.seq;
  }
  await recordAuditEvent(db, {
    ...audit,
    kind: "admin.audit.export",
    result: truncated ? "truncated" : "ok",
    userId: filter.userId ?? null,
    target: filter.target ?? null,
    operation: filter.operation ?? null,
    partner: filter.partner ?? null,
  });
  return { csv: `${lines.join("\r\n")}\r\n`, rows, truncated };
}
