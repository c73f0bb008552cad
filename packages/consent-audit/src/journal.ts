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
import { and, asc, desc, eq, gt, gte, inArray, lt, type SQL } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, contextFields, recordAuditEvent } from "./audit";
import type { Database } from "./database";
import { InvalidInputError } from "./errors";
import { notifyResidentEvents } from "./resident-event-bus";
import { consentCurrent } from "./schema/consent";
import { journalEntries, webhookOutbox } from "./schema/journal";
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

/** `call.incoming` before anything else: a visitor is waiting at the door. */
function priorityOf(kind: PartnerEventType): number {
  return kind === "call.incoming" ? 0 : 1;
}

function toEntry(row: typeof journalEntries.$inferSelect): JournalEntry {
  return {
    ...row,
    occurredAt: row.occurredAt.toISOString(),
    recordedAt: row.recordedAt.toISOString(),
  };
}

/** The webhook body of an entry (Standard Webhooks' `type`/`timestamp`/`data`): opaque ids only. */
function webhookPayload(entry: JournalEntry): Record<string, unknown> {
  return {
    type: entry.kind,
    timestamp: entry.occurredAt,
    data: {
      id: entry.id,
      userId: entry.userId,
      deviceId: entry.deviceId,
      cameraId: entry.cameraId,
      unitId: entry.unitId,
      method: entry.method,
      outcome: entry.outcome,
      durationSeconds: entry.durationSeconds,
    },
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

/**
 * `appendJournal` for several events at once, in a statement per step whatever their number:
 * the consent rows of every recipient, the entries, their webhook messages, their notices.
 * Returns each event's entries, in the order given.
 */
export async function appendJournalBatch(
  tx: Database,
  appends: readonly JournalAppend[],
  options: { outbox: boolean },
): Promise<JournalEntry[][]> {
  const parsed = appends.map(({ entry, userIds }) => ({
    event: parseInput(JournalEntryInput, entry, "journal entry"),
    recipients: [...new Set(parseInput(Recipients, userIds, "journal recipients"))].sort(),
  }));
  const everyone = [...new Set(parsed.flatMap((item) => item.recipients))].sort();
  if (everyone.length === 0) return parsed.map(() => []);
  const granted = await tx
    .select({ userId: consentCurrent.userId, state: consentCurrent.state })
    .from(consentCurrent)
    .where(and(eq(consentCurrent.purpose, "journal"), inArray(consentCurrent.userId, everyone)))
    .orderBy(consentCurrent.userId)
    .for("share");
  const keep = new Set(granted.filter((row) => row.state === "granted").map((row) => row.userId));
  /** The index in `appends` of each entry to write, by its id. */
  const owner = new Map<string, number>();
  const values = parsed.flatMap(({ event, recipients }, index) =>
    recipients
      .filter((userId) => keep.has(userId))
      .map((userId) => {
        const id = newTimeOrderedId("jrn");
        owner.set(id, index);
        return {
          id,
          userId,
          kind: event.kind,
          deviceId: event.deviceId ?? null,
          cameraId: event.cameraId ?? null,
          unitId: event.unitId ?? null,
          method: event.method ?? null,
          outcome: event.outcome ?? null,
          durationSeconds: event.durationSeconds ?? null,
          occurredAt: event.occurredAt,
          sourceEventId: event.sourceEventId,
        };
      }),
  );
  const written: JournalEntry[][] = parsed.map(() => []);
  if (values.length === 0) return written;
  const rows = await tx.insert(journalEntries).values(values).returning();
  const entries = rows.map(toEntry).sort((a, b) => a.seq - b.seq);
  if (options.outbox) {
    await tx.insert(webhookOutbox).values(
      entries.map((entry) => ({
        id: newId("msg"),
        userId: entry.userId,
        journalSeq: entry.seq,
        eventType: entry.kind,
        payload: webhookPayload(entry),
        priority: priorityOf(entry.kind),
      })),
    );
  }
  await notifyResidentEvents(
    tx,
    entries.map((entry) => ({ userId: entry.userId, seq: entry.seq })),
  );
  for (const entry of entries) written[owner.get(entry.id) ?? 0]?.push(entry);
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
  /** `appendJournal` in the writer's next transaction, shared with whatever else is queued. */
  append(entry: JournalEntryInput, userIds: readonly string[]): Promise<JournalEntry[]>;
  /** Resolves once everything queued so far is committed or failed. */
  flush(): Promise<void>;
  /** Flushes; entries offered afterwards are refused. */
  close(): Promise<void>;
  /** Transactions and events written so far. */
  readonly stats: { batches: number; appends: number };
}

/**
 * Journal entries of concurrent requests (a resident's own opens) in one transaction, one
 * statement per step (`appendJournalBatch`): one commit and a few round trips per batch, where
 * each entry alone took a transaction of its own. While one batch is written the next gathers.
 * A failed batch of several is retried one event at a time, so a bad one fails alone.
 */
export function createJournalWriter(
  db: Database,
  options: { outbox: boolean; maxBatch?: number },
): JournalWriter {
  const maxBatch = options.maxBatch ?? 128;
  type Queued = JournalAppend & {
    resolve: (entries: JournalEntry[]) => void;
    reject: (error: unknown) => void;
  };
  const queue: Queued[] = [];
  let writing: Promise<void> | null = null;
  let closed = false;
  const stats = { batches: 0, appends: 0 };

  async function write(batch: readonly Queued[]): Promise<void> {
    try {
      const written = await db.transaction((tx) => appendJournalBatch(tx, batch, options));
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
        // Checked here too: bad input fails its caller alone, before anything is queued.
        parseInput(JournalEntryInput, entry, "journal entry");
        parseInput(Recipients, userIds, "journal recipients");
        queue.push({ entry, userIds, resolve, reject });
        void drain();
      });
    },
    async flush() {
      while (writing) await writing;
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
