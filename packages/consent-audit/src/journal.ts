import {
  CALL_OUTCOMES,
  type CallOutcome,
  DeviceId,
  ENTRY_METHODS,
  type EntryMethod,
  newId,
  newTimeOrderedId,
  PARTNER_EVENT_TYPES,
  type PartnerEventType,
  UnitId,
  UserId,
} from "@propgate/domain";
import { and, asc, desc, eq, gt, gte, lt, type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { z } from "zod";
import { type AuditContext, contextFields, recordAuditEvent } from "./audit";
import { type Database, registeredRawQuery, rowsOf } from "./database";
import { InvalidInputError } from "./errors";
import { RESIDENT_EVENTS_CHANNEL } from "./resident-event-bus";
import { journalEntries } from "./schema/journal";
import { parseInput } from "./validation";

/** One thing that happened at a resident's door, as their journal keeps it: opaque ids only. */
export interface JournalEntry {
  /** The order, the page cursor and the SSE event id. */
  seq: number;
  id: string;
  userId: string;
  kind: PartnerEventType;
  deviceId: string | null;
  /** The camera to watch (our device id), while a call rings. */
  cameraId: string | null;
  unitId: string | null;
  method: EntryMethod | null;
  outcome: CallOutcome | null;
  durationSeconds: number | null;
  /** ISO-8601 UTC. */
  occurredAt: string;
  recordedAt: string;
  /** The audit row of the partner event, or the call id of the resident's own open. */
  sourceEventId: string;
}

const JournalEntryInput = z.strictObject({
  kind: z.enum(PARTNER_EVENT_TYPES),
  deviceId: DeviceId.nullish(),
  cameraId: DeviceId.nullish(),
  unitId: UnitId.nullish(),
  method: z.enum(ENTRY_METHODS).nullish(),
  outcome: z.enum(CALL_OUTCOMES).nullish(),
  durationSeconds: z.number().int().min(0).max(86_400).nullish(),
  occurredAt: z.coerce.date(),
  sourceEventId: z.string().min(1).max(128),
});
export type JournalEntryInput = z.input<typeof JournalEntryInput>;

const Recipients = z.array(UserId).max(1000);

function toEntry(row: typeof journalEntries.$inferSelect): JournalEntry {
  return {
    ...row,
    occurredAt: row.occurredAt.toISOString(),
    recordedAt: row.recordedAt.toISOString(),
  };
}

/**
 * Journals one event for each of `userIds` whose `journal` consent is granted now, inside `tx`;
 * the others get nothing. Their consent rows are read FOR SHARE, so a revoke on any instance
 * either comes first (nothing written) or waits and then erases what this wrote. With `outbox`,
 * each entry is queued for the webhook too. Each entry is announced on the resident event bus
 * at commit. Returns the entries written.
 */
export async function appendJournal(
  tx: Database,
  entry: JournalEntryInput,
  userIds: readonly string[],
  options: { outbox: boolean },
): Promise<JournalEntry[]> {
  const [written] = await appendJournalBatch(tx, [{ entry, userIds }], options);
  return written ?? [];
}

/** One event and the residents it concerns, as `appendJournal` takes them. */
export interface JournalAppend {
  entry: JournalEntryInput;
  userIds: readonly string[];
}

/** An instant as `Date.toISOString` writes it, in SQL (UTC, milliseconds, `Z`). */
const isoOf = (column: string) =>
  sql.raw(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

/**
 * The whole of `appendJournalBatch` in one statement. `rows` (JSON) holds one row per event and
 * recipient (`n` their order); the consent rows of every recipient are read FOR SHARE, each by
 * the table's key in the residents' order (a LATERAL lookup, never flattened into a join: as
 * `user_id in (…)` the planner read every consent row of the estate once it had a few thousand,
 * like the audit writer's gate before it, issue 30), the granted ones' entries go in, with their webhook messages when `outbox` (Standard Webhooks'
 * `type`/`timestamp`/`data`, opaque ids only; `call.incoming` first, priority 0: a visitor is
 * waiting at the door) and one NOTIFY each (`{ userId, seq }`, read by `createResidentEventBus`;
 * counted in the answer, so the statement runs them).
 */
export const journalAppendStatement = (rows: string, outbox: boolean) => sql`with input as (
  select * from json_to_recordset(${rows}::json) as r(
    n int, id text, user_id text, kind text, device_id text, camera_id text, unit_id text,
    method text, outcome text, duration_seconds int, occurred_at timestamptz,
    source_event_id text, message_id text)
), granted as (
  select g.user_id from (select distinct user_id from input order by user_id) g
  cross join lateral (
    select 1 from consent_current c
    where c.user_id = g.user_id and c.purpose = 'journal' and c.state = 'granted'
    for share of c
  ) kept
), inserted as (
  insert into journal_entries (id, user_id, kind, device_id, camera_id, unit_id, method, outcome,
    duration_seconds, occurred_at, source_event_id)
  select id, user_id, kind, device_id, camera_id, unit_id, method, outcome, duration_seconds,
    occurred_at, source_event_id
  from input where user_id in (select user_id from granted) order by n
  returning seq, id, user_id, kind, device_id, camera_id, unit_id, method, outcome,
    duration_seconds, ${isoOf("occurred_at")} as occurred_at,
    ${isoOf("recorded_at")} as recorded_at, source_event_id
), queued as (
  insert into webhook_outbox (id, user_id, journal_seq, event_type, payload, priority)
  select i.message_id, e.user_id, e.seq, e.kind,
    jsonb_build_object('type', e.kind, 'timestamp', e.occurred_at, 'data', jsonb_build_object(
      'id', e.id, 'userId', e.user_id, 'deviceId', e.device_id, 'cameraId', e.camera_id,
      'unitId', e.unit_id, 'method', e.method, 'outcome', e.outcome,
      'durationSeconds', e.duration_seconds)),
    case when e.kind = 'call.incoming' then 0 else 1 end
  from inserted e join input i on i.id = e.id
  where ${sql.raw(outbox ? "true" : "false")}
), announced as (
  select pg_notify(${RESIDENT_EVENTS_CHANNEL}, json_build_object('userId', user_id, 'seq', seq)::text)
  from inserted
)
select e.*, (select count(*) from announced) as announced
from inserted e order by e.seq`;

/** `journalAppendStatement`'s text without and with the outbox: parameters `$1` rows, `$2` channel. */
const PREPARED_APPEND = [false, true].map((outbox) => {
  const { sql: text, params } = new PgDialect().sqlToQuery(journalAppendStatement("", outbox));
  if (params.length !== 2 || params[1] !== RESIDENT_EVENTS_CHANNEL)
    throw new Error("the journal statement's parameters changed: rows, then the channel");
  return text;
}) as [string, string];

interface AppendedRow extends Record<string, unknown> {
  seq: number | string;
  id: string;
  user_id: string;
  kind: PartnerEventType;
  device_id: string | null;
  camera_id: string | null;
  unit_id: string | null;
  method: EntryMethod | null;
  outcome: CallOutcome | null;
  duration_seconds: number | null;
  occurred_at: string;
  recorded_at: string;
  source_event_id: string;
}

/** An event and its recipients, checked: what `writeJournal` takes. */
interface CheckedAppend {
  event: z.output<typeof JournalEntryInput>;
  recipients: string[];
}

/** Checks an event and its recipients; `InvalidInputError` names what is wrong. */
function checkAppend({ entry, userIds }: JournalAppend): CheckedAppend {
  return {
    event: parseInput(JournalEntryInput, entry, "journal entry"),
    recipients: [...new Set(parseInput(Recipients, userIds, "journal recipients"))].sort(),
  };
}

/**
 * `appendJournal` for several events at once, in ONE statement whatever their number
 * (`journalAppendStatement`): inside a transaction it joins it; on its own it is its own
 * transaction, one round trip. Returns each event's entries, in the order given.
 */
export function appendJournalBatch(
  tx: Database,
  appends: readonly JournalAppend[],
  options: { outbox: boolean },
): Promise<JournalEntry[][]> {
  return writeJournal(tx, appends.map(checkAppend), options);
}

async function writeJournal(
  tx: Database,
  appends: readonly CheckedAppend[],
  options: { outbox: boolean },
): Promise<JournalEntry[][]> {
  const owner = new Map<string, number>();
  const input = appends.flatMap(({ event, recipients }, index) => {
    return recipients.map((userId) => {
      const id = newTimeOrderedId("jrn");
      owner.set(id, index);
      return {
        id,
        user_id: userId,
        kind: event.kind,
        device_id: event.deviceId ?? null,
        camera_id: event.cameraId ?? null,
        unit_id: event.unitId ?? null,
        method: event.method ?? null,
        outcome: event.outcome ?? null,
        duration_seconds: event.durationSeconds ?? null,
        occurred_at: event.occurredAt.toISOString(),
        source_event_id: event.sourceEventId,
        message_id: newId("msg"),
      };
    });
  });
  const written: JournalEntry[][] = appends.map(() => []);
  if (input.length === 0) return written;
  const json = JSON.stringify(input.map((row, n) => ({ n, ...row })));
  // On its own, the statement is prepared once per connection: one round trip, no parse or plan
  // (an unprepared statement with parameters costs the driver a describe first, a second round
  // trip). Inside a transaction it runs on the transaction's connection, as drizzle's.
  const raw = registeredRawQuery(tx);
  const rows = raw
    ? await raw<AppendedRow>(PREPARED_APPEND[options.outbox ? 1 : 0], [
        json,
        RESIDENT_EVENTS_CHANNEL,
      ])
    : rowsOf<AppendedRow>(await tx.execute(journalAppendStatement(json, options.outbox)));
  for (const row of rows) {
    written[owner.get(row.id) ?? 0]?.push({
      seq: Number(row.seq),
      id: row.id,
      userId: row.user_id,
      kind: row.kind,
      deviceId: row.device_id,
      cameraId: row.camera_id,
      unitId: row.unit_id,
      method: row.method,
      outcome: row.outcome,
      durationSeconds: row.duration_seconds,
      occurredAt: row.occurred_at,
      recordedAt: row.recorded_at,
      sourceEventId: row.source_event_id,
    });
  }
  return written;
}

/** What a {@link createJournalWriter} was given to close: the entries it still held fail. */
export class JournalWriterClosedError extends Error {
  constructor() {
    super("the journal writer is closed");
    this.name = "JournalWriterClosedError";
  }
}

/** Group commit of journal entries: {@link createJournalWriter}. */
export interface JournalWriter {
  /** `appendJournal` in the writer's next statement, shared with whatever else is queued. */
  append(entry: JournalEntryInput, userIds: readonly string[]): Promise<JournalEntry[]>;
  /** Waits for what is queued; entries offered afterwards are refused. */
  close(): Promise<void>;
  /** Batches (statements) and events written so far. */
  readonly stats: { batches: number; appends: number };
}

/**
 * Journal entries of concurrent requests (a resident's own opens) in one statement
 * (`appendJournalBatch`, its own transaction): one round trip and one commit per batch, where
 * each entry alone took a transaction of five round trips. While one batch is written the next
 * gathers. A failed batch of several is retried an event at a time, so a bad one fails alone.
 */
export function createJournalWriter(
  db: Database,
  options: { outbox: boolean; maxBatch?: number },
): JournalWriter {
  const maxBatch = options.maxBatch ?? 128;
  type Queued = CheckedAppend & {
    resolve: (entries: JournalEntry[]) => void;
    reject: (error: unknown) => void;
  };
  const queue: Queued[] = [];
  let writing: Promise<void> | null = null;
  let closed = false;
  const stats = { batches: 0, appends: 0 };

  async function write(batch: readonly Queued[]): Promise<void> {
    try {
      const written = await writeJournal(db, batch, options);
      stats.batches += 1;
      stats.appends += batch.length;
      for (const [i, item] of batch.entries()) item.resolve(written[i] ?? []);
    } catch (error) {
      if (batch.length === 1) batch[0]?.reject(error);
      else for (const item of batch) await write([item]);
    }
  }

  function drain(): Promise<void> {
    writing ??= (async () => {
      await Promise.resolve(); // let `writing` be assigned before the loop can end
      try {
        while (queue.length > 0) await write(queue.splice(0, maxBatch));
      } finally {
        writing = null;
      }
    })();
    return writing;
  }

  return {
    append(entry, userIds) {
      return new Promise((resolve, reject) => {
        if (closed) {
          reject(new JournalWriterClosedError());
          return;
        }
        // Checked here: bad input fails its caller alone, before anything is queued.
        queue.push({ ...checkAppend({ entry, userIds }), resolve, reject });
        void drain();
      });
    },
    async close() {
      closed = true;
      while (writing) await writing;
    },
    stats,
  };
}

const PAGE_DEFAULT = 50;
const PAGE_MAX = 100;
const CURSOR_PREFIX = "j1.";

/** An opaque page cursor: the last `seq` served, so the next page starts below it. */
function encodeCursor(seq: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`).toString("base64url");
}

function decodeCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(cursor)
    ? Buffer.from(cursor, "base64url").toString()
    : "";
  const seq = text.startsWith(CURSOR_PREFIX)
    ? Number(text.slice(CURSOR_PREFIX.length))
    : Number.NaN;
  if (!Number.isSafeInteger(seq) || seq < 1 || `${CURSOR_PREFIX}${seq}` !== text) {
    throw new InvalidInputError("invalid journal query", ["cursor: not a cursor this api gave"]);
  }
  return seq;
}

const ListJournalQuery = z.strictObject({
  since: z.coerce.date().optional(),
  deviceId: DeviceId.optional(),
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(PAGE_MAX).default(PAGE_DEFAULT),
});
export type ListJournalQuery = z.input<typeof ListJournalQuery>;

export interface JournalPage {
  /** Newest first. */
  entries: JournalEntry[];
  /** Pass back for the next (older) page; null on the last one. */
  nextCursor: string | null;
}

/**
 * The resident's journal, newest first, a page at a time: only what happened at or after
 * `since`, at `deviceId` (the device or the camera shown for it). A cursor this api did not
 * give is `InvalidInputError`.
 */
export async function listJournal(
  db: Database,
  userId: string,
  query: ListJournalQuery = {},
): Promise<JournalPage> {
  const id = parseInput(UserId, userId, "user id");
  const q = parseInput(ListJournalQuery, query, "journal query");
  const conditions: SQL[] = [eq(journalEntries.userId, id)];
  if (q.cursor !== undefined) conditions.push(lt(journalEntries.seq, decodeCursor(q.cursor)));
  if (q.since !== undefined) conditions.push(gte(journalEntries.occurredAt, q.since));
  if (q.deviceId !== undefined) conditions.push(eq(journalEntries.deviceId, q.deviceId));
  const rows = await db
    .select()
    .from(journalEntries)
    .where(and(...conditions))
    .orderBy(desc(journalEntries.seq))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit).map(toEntry);
  const last = page.at(-1);
  return {
    entries: page,
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.seq) : null,
  };
}

const SinceInput = z.strictObject({
  userId: UserId,
  afterSeq: z.number().int().min(0),
  limit: z.number().int().min(1).max(1000),
});

/** The resident's entries after `afterSeq`, oldest first: what a reconnecting subscriber missed. */
export async function journalSince(
  db: Database,
  userId: string,
  afterSeq: number,
  limit: number,
): Promise<JournalEntry[]> {
  const q = parseInput(SinceInput, { userId, afterSeq, limit }, "journal resume");
  const rows = await db
    .select()
    .from(journalEntries)
    .where(and(eq(journalEntries.userId, q.userId), gt(journalEntries.seq, q.afterSeq)))
    .orderBy(asc(journalEntries.seq))
    .limit(q.limit);
  return rows.map(toEntry);
}

/**
 * Erases the resident's journal inside `tx` (their queued webhook messages go with it, by the
 * cascade) and records it: one `journal.erased` audit row with the count, no event content.
 * `revokeConsent` calls it when `journal` consent is revoked. Returns how many were erased.
 */
export async function eraseJournal(
  tx: Database,
  userId: string,
  audit: AuditContext,
): Promise<number> {
  const id = parseInput(UserId, userId, "user id");
  const erased = await tx
    .delete(journalEntries)
    .where(eq(journalEntries.userId, id))
    .returning({ seq: journalEntries.seq });
  await recordAuditEvent(tx, {
    ...contextFields(audit),
    kind: "journal.erased",
    result: "ok",
    userId: id,
    purpose: "journal",
    target: `${erased.length} entries`,
  });
  return erased.length;
}
