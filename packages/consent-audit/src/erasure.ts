import { newId, type PartnerOperation, TypedId } from "@propgate/domain";
import {
  and,
  asc,
  count,
  desc,
  eq,
  inArray,
  is,
  isNotNull,
  isNull,
  lt,
  lte,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import { PgTransaction } from "drizzle-orm/pg-core";
import { z } from "zod";
import { type AuditContext, contextFields, lockAuditChain, recordAuditEvent } from "./audit";
import type { Database } from "./database";
import { ErasureNotFoundError, InvalidInputError } from "./errors";
import {
  type DestructionConfirmation,
  ERASURE_CATEGORIES,
  ERASURE_PARTNER,
  ERASURE_REASONS,
  ERASURE_STATUSES,
  type ErasureCategory,
  type ErasureReason,
  type ErasureStatus,
  PARTNERS,
  type Partner,
} from "./purposes";
import { destructionRecords } from "./schema/destruction-records";
import { type ErasedCounts, erasureRequests } from "./schema/erasure-requests";
import { parseInput } from "./validation";

export type { ErasedCounts };

/** The partner operation (and OAuth scope) an erasure is carried out with. */
export const ERASURE_OPERATION: PartnerOperation = "subjects.erase";

export interface ErasureRequest {
  id: string;
  userId: string;
  partner: Partner;
  categories: ErasureCategory[];
  reason: ErasureReason;
  /** The user id or `admin:<id>` who caused the erasure. */
  requestedBy: string;
  /** ISO-8601 UTC. */
  requestedAt: string;
  status: ErasureStatus;
  /** Failed attempts so far. */
  attempts: number;
  nextAttemptAt: string;
  /** Short code of the last failure (`http_503`), never partner text. */
  lastError: string | null;
  completedAt: string | null;
  partnerResponse: ErasedCounts | null;
  /** ISO-8601 UTC: when it passed ERASURE_DEADLINE_DAYS unconfirmed; null while in time. */
  overdueSince: string | null;
}

const Opaque = z.string().min(1).max(128);
const ErasureId = TypedId("ers");

const Categories = z
  .array(z.enum(ERASURE_CATEGORIES))
  .min(1)
  .max(ERASURE_CATEGORIES.length)
  // One canonical order, so `target` of the audit rows reads the same for the same request.
  .transform((list) => ERASURE_CATEGORIES.filter((category) => list.includes(category)));

const EnqueueErasureInput = z.strictObject({
  userId: Opaque,
  partner: z.enum(PARTNERS),
  categories: Categories,
  reason: z.enum(ERASURE_REASONS),
  requestedBy: Opaque,
});
export interface EnqueueErasureInput {
  userId: string;
  partner: Partner;
  categories: readonly ErasureCategory[];
  reason: ErasureReason;
  /** The user id or `admin:<id>`. */
  requestedBy: string;
}

const ErasedCountsSchema = z.strictObject({
  faces: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  plates: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});

function toErasure(row: typeof erasureRequests.$inferSelect): ErasureRequest {
  return {
    id: row.id,
    userId: row.userId,
    partner: row.partner,
    categories: row.categories,
    reason: row.reason,
    requestedBy: row.requestedBy,
    requestedAt: row.requestedAt.toISOString(),
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt.toISOString(),
    lastError: row.lastError,
    completedAt: row.completedAt?.toISOString() ?? null,
    partnerResponse: row.partnerResponse,
    overdueSince: row.overdueSince?.toISOString() ?? null,
  };
}

/** Runs `work` in `tx` when it is a transaction already, else in a new one. */
function inTransaction<T>(db: Database, work: (tx: Database) => Promise<T>): Promise<T> {
  return is(db, PgTransaction) ? work(db) : db.transaction(work);
}

/**
 * Queues an erasure at the partner that holds the categories (faces → intercom, plates →
 * barrier; anything else is `InvalidInputError`), with its `erasure.requested` audit row, inside
 * `tx` (or a transaction of its own when given a `db`). `revokeConsent` calls it for faces/plates.
 */
export async function enqueueErasure(
  tx: Database,
  input: EnqueueErasureInput,
  audit: AuditContext,
): Promise<ErasureRequest> {
  const request = parseInput(EnqueueErasureInput, input, "erasure request");
  const foreign = request.categories.filter((c) => ERASURE_PARTNER[c] !== request.partner);
  if (foreign.length > 0) {
    throw new InvalidInputError("invalid erasure request", [
      `categories: ${foreign.join(",")} is not held by partner ${request.partner}`,
    ]);
  }
  return inTransaction(tx, async (inner) => {
    await lockAuditChain(inner);
    const [row] = await inner
      .insert(erasureRequests)
      .values({ id: newId("ers"), ...request })
      .returning();
    if (row === undefined) throw new Error("erasure request was not inserted");
    await recordAuditEvent(inner, {
      ...contextFields(audit),
      ...erasureAuditFields(row),
      kind: "erasure.requested",
      result: "ok",
    });
    return toErasure(row);
  });
}

/** Whose data, which categories, at which partner, by whom, and the request id as `callId`. */
function erasureAuditFields(row: typeof erasureRequests.$inferSelect) {
  return {
    actor: row.requestedBy,
    userId: row.userId,
    partner: row.partner,
    operation: ERASURE_OPERATION,
    target: row.categories.join(","),
    callId: row.id,
  };
}

const ClaimInput = z.strictObject({
  limit: z.number().int().min(1).max(500),
  /** How long the claim holds before another worker may take the request again. */
  leaseSeconds: z.number().positive().max(86_400),
});

/**
 * Claims up to `limit` due requests (pending, `next_attempt_at <= now()`), oldest due first, by
 * pushing their `next_attempt_at` forward by `leaseSeconds`. `FOR UPDATE SKIP LOCKED` lets
 * workers on several instances claim at once without waiting or taking the same request; the
 * lease keeps it theirs until they complete or fail it (or the lease runs out).
 */
export function claimDueErasures(
  db: Database,
  input: { limit: number; leaseSeconds: number },
): Promise<ErasureRequest[]> {
  return claimDue(db, "pending", input);
}

/**
 * Claims up to `limit` `accepted` requests whose next status poll is due, as `claimDueErasures`
 * does for pending ones: the partner took them (202) and is asked again until it says done.
 */
export function claimDueErasurePolls(
  db: Database,
  input: { limit: number; leaseSeconds: number },
): Promise<ErasureRequest[]> {
  return claimDue(db, "accepted", input);
}

async function claimDue(
  db: Database,
  status: "pending" | "accepted",
  input: { limit: number; leaseSeconds: number },
): Promise<ErasureRequest[]> {
  const claim = parseInput(ClaimInput, input, "erasure claim");
  const due = db
    .select({ id: erasureRequests.id })
    .from(erasureRequests)
    .where(and(eq(erasureRequests.status, status), lte(erasureRequests.nextAttemptAt, sql`now()`)))
    .orderBy(asc(erasureRequests.nextAttemptAt))
    .limit(claim.limit)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(erasureRequests)
    .set({ nextAttemptAt: sql`now() + make_interval(secs => ${claim.leaseSeconds})` })
    .where(inArray(erasureRequests.id, due))
    .returning();
  return rows
    .map(toErasure)
    .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.id.localeCompare(b.id));
}

const CompleteInput = z.strictObject({
  erased: ErasedCountsSchema.nullable(),
  status: z.enum(["done", "accepted"]),
  /** For `accepted`: when to ask the partner first (its `Retry-After`, or our default). */
  pollInSeconds: z
    .number()
    .min(0)
    .max(30 * 86_400),
});

/**
 * Marks the request acknowledged and, in the same transaction, appends the `erasure.completed`
 * audit row (the record of destruction: `userId`, `target` = categories, `partner`, `actor` =
 * who requested it, `callId` = the request id; `result` `ok`, or `accepted` when the partner
 * took it to erase later — a 202). `done` keeps the partner's counts when it gave them (200;
 * a 204 gives none). Either way it is not sent again. Completing a request that is acknowledged
 * already changes nothing and writes no second row.
 */
export async function completeErasure(
  db: Database,
  id: string,
  input: {
    erased: ErasedCounts | null;
    status?: "done" | "accepted";
    pollInSeconds?: number;
    audit: AuditContext;
  },
): Promise<ErasureRequest> {
  const erasureId = parseInput(ErasureId, id, "erasure id");
  const { erased, status, pollInSeconds } = parseInput(
    CompleteInput,
    {
      erased: input.erased,
      status: input.status ?? "done",
      pollInSeconds: input.pollInSeconds ?? 60,
    },
    "erasure result",
  );
  return inTransaction(db, async (tx) => {
    await lockAuditChain(tx);
    const [existing] = await tx
      .select()
      .from(erasureRequests)
      .where(eq(erasureRequests.id, erasureId))
      .for("update");
    if (existing === undefined) throw new ErasureNotFoundError(erasureId);
    if (existing.status !== "pending") return toErasure(existing);
    const [row] = await tx
      .update(erasureRequests)
      .set({
        status,
        completedAt: sql`now()`,
        partnerResponse: erased,
        // An accepted request is polled from here on; `next_attempt_at` is its next poll.
        nextAttemptAt: sql`now() + make_interval(secs => ${pollInSeconds})`,
      })
      .where(eq(erasureRequests.id, erasureId))
      .returning();
    if (row === undefined) throw new ErasureNotFoundError(erasureId);
    await recordAuditEvent(tx, {
      ...contextFields(input.audit),
      ...erasureAuditFields(row),
      kind: "erasure.completed",
      result: status === "done" ? "ok" : "accepted",
    });
    if (status === "done") {
      await recordDestruction(tx, row, erased === null ? "204 on DELETE" : "200 on DELETE");
    }
    return toErasure(row);
  });
}

/** The destruction record of a request the partner confirmed (one per request). */
async function recordDestruction(
  tx: Database,
  row: typeof erasureRequests.$inferSelect,
  confirmedBy: DestructionConfirmation,
): Promise<void> {
  await tx
    .insert(destructionRecords)
    .values({
      id: newId("dst"),
      erasureId: row.id,
      userId: row.userId,
      partner: row.partner,
      categories: row.categories,
      confirmedBy,
      destroyedAt: row.completedAt ?? new Date(),
      requestedAt: row.requestedAt,
      erased: row.partnerResponse,
    })
    .onConflictDoNothing({ target: destructionRecords.erasureId });
}

const FinishInput = z.strictObject({
  /** The partner's own time of erasure, when its status answer gave one. */
  completedAt: z.date().nullable(),
});

/**
 * The partner reported an `accepted` request done on a poll: `done` (at the partner's
 * `completedAt` when given, else now), its `erasure.completed` audit row (`ok`) and its
 * destruction record ("status done on poll"), in one transaction. Other states: unchanged.
 */
export async function finishAcceptedErasure(
  db: Database,
  id: string,
  input: { completedAt: Date | null; audit: AuditContext },
): Promise<ErasureRequest> {
  const erasureId = parseInput(ErasureId, id, "erasure id");
  const { completedAt } = parseInput(
    FinishInput,
    { completedAt: input.completedAt },
    "erasure status",
  );
  return inTransaction(db, async (tx) => {
    await lockAuditChain(tx);
    const [row] = await tx
      .update(erasureRequests)
      .set({ status: "done", completedAt: completedAt ?? sql`now()`, lastError: null })
      .where(and(eq(erasureRequests.id, erasureId), eq(erasureRequests.status, "accepted")))
      .returning();
    if (row === undefined) {
      const [existing] = await tx
        .select()
        .from(erasureRequests)
        .where(eq(erasureRequests.id, erasureId));
      if (existing === undefined) throw new ErasureNotFoundError(erasureId);
      return toErasure(existing);
    }
    await recordAuditEvent(tx, {
      ...contextFields(input.audit),
      ...erasureAuditFields(row),
      kind: "erasure.completed",
      result: "ok",
    });
    await recordDestruction(tx, row, "status done on poll");
    return toErasure(row);
  });
}

const PollLaterInput = z.strictObject({
  retryInSeconds: z
    .number()
    .min(0)
    .max(30 * 86_400),
});

/** The partner says an accepted erasure is still pending: ask again in `retryInSeconds`. */
export async function scheduleErasurePoll(
  db: Database,
  id: string,
  input: { retryInSeconds: number },
): Promise<void> {
  const erasureId = parseInput(ErasureId, id, "erasure id");
  const { retryInSeconds } = parseInput(PollLaterInput, input, "erasure poll");
  await db
    .update(erasureRequests)
    .set({ nextAttemptAt: sql`now() + make_interval(secs => ${retryInSeconds})` })
    .where(and(eq(erasureRequests.id, erasureId), eq(erasureRequests.status, "accepted")));
}

const DeadlineInput = z.strictObject({
  deadlineSeconds: z
    .number()
    .min(0)
    .max(365 * 86_400),
  now: z.date(),
});

/**
 * Marks requests the partner has not confirmed `deadlineSeconds` after they were made
 * (ERASURE_DEADLINE_DAYS) overdue, once: `overdue_since = now`, with an `erasure.overdue` audit
 * row each (`result` `overdue`). `now` is the caller's clock (a test's simulated one). Returns
 * the requests newly marked.
 */
export async function markOverdueErasures(
  db: Database,
  input: { deadlineSeconds: number; now: Date; audit: AuditContext },
): Promise<ErasureRequest[]> {
  const { deadlineSeconds, now } = parseInput(
    DeadlineInput,
    { deadlineSeconds: input.deadlineSeconds, now: input.now },
    "erasure deadline",
  );
  const cut = new Date(now.getTime() - deadlineSeconds * 1000);
  return inTransaction(db, async (tx) => {
    await lockAuditChain(tx);
    const rows = await tx
      .update(erasureRequests)
      .set({ overdueSince: now })
      .where(
        and(
          inArray(erasureRequests.status, ["pending", "accepted"]),
          isNull(erasureRequests.overdueSince),
          // Whole milliseconds, as the clock `now` comes from keeps them.
          sql`date_trunc('milliseconds', ${erasureRequests.requestedAt}) <= ${cut.toISOString()}::timestamptz`,
        ),
      )
      .returning();
    for (const row of rows) {
      await recordAuditEvent(tx, {
        ...contextFields(input.audit),
        ...erasureAuditFields(row),
        actor: input.audit.actor ?? null,
        kind: "erasure.overdue",
        result: "overdue",
      });
    }
    return rows.map(toErasure);
  });
}

const FailInput = z.strictObject({
  errorCode: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/),
  retryInSeconds: z
    .number()
    .min(0)
    .max(30 * 86_400),
});

/**
 * Records a failed attempt (a DELETE, or a status poll of an accepted request): `attempts + 1`, `last_error` (a short code such as `http_503`,
 * never partner text) and the next try at `now() + retryInSeconds` (the caller's back-off).
 * A request that is done already is returned unchanged.
 */
export async function failErasureAttempt(
  db: Database,
  id: string,
  input: { errorCode: string; retryInSeconds: number },
): Promise<ErasureRequest> {
  const erasureId = parseInput(ErasureId, id, "erasure id");
  const failure = parseInput(FailInput, input, "erasure failure");
  const [row] = await db
    .update(erasureRequests)
    .set({
      attempts: sql`${erasureRequests.attempts} + 1`,
      lastError: failure.errorCode,
      nextAttemptAt: sql`now() + make_interval(secs => ${failure.retryInSeconds})`,
    })
    .where(
      and(
        eq(erasureRequests.id, erasureId),
        inArray(erasureRequests.status, ["pending", "accepted"]),
      ),
    )
    .returning();
  if (row !== undefined) return toErasure(row);
  const [existing] = await db
    .select()
    .from(erasureRequests)
    .where(eq(erasureRequests.id, erasureId));
  if (existing === undefined) throw new ErasureNotFoundError(erasureId);
  return toErasure(existing);
}

/**
 * An admin's retry of a pending erasure: due now (`next_attempt_at = now()`, so the next pass of
 * any instance's worker sends it), with its `admin.erasures.retry` audit row (the admin as
 * `actor`, their reason from `audit`). An erasure that is acknowledged already is refused. A
 * worker holding the request's lease may send it once more meanwhile: erasure is idempotent.
 */
export async function retryErasure(
  db: Database,
  id: string,
  audit: AuditContext,
): Promise<ErasureRequest> {
  const erasureId = parseInput(ErasureId, id, "erasure id");
  return inTransaction(db, async (tx) => {
    await lockAuditChain(tx);
    const [row] = await tx
      .update(erasureRequests)
      .set({ nextAttemptAt: sql`now()` })
      .where(and(eq(erasureRequests.id, erasureId), eq(erasureRequests.status, "pending")))
      .returning();
    if (row === undefined) {
      const [existing] = await tx
        .select({ status: erasureRequests.status })
        .from(erasureRequests)
        .where(eq(erasureRequests.id, erasureId));
      if (existing === undefined) throw new ErasureNotFoundError(erasureId);
      throw new InvalidInputError("invalid erasure retry", [
        `erasure ${erasureId} is ${existing.status}, not pending: nothing to retry`,
      ]);
    }
    await recordAuditEvent(tx, {
      ...contextFields(audit),
      ...erasureAuditFields(row),
      actor: audit.actor ?? null,
      kind: "admin.erasures.retry",
      result: "ok",
    });
    return toErasure(row);
  });
}

const ListErasuresQuery = z.strictObject({
  status: z.enum(ERASURE_STATUSES).optional(),
  userId: Opaque.optional(),
  limit: z.number().int().min(1).max(500).default(100),
});
export type ListErasuresQuery = z.input<typeof ListErasuresQuery>;

/** Erasure requests for admins, newest first. */
export async function listErasures(
  db: Database,
  query: ListErasuresQuery = {},
): Promise<ErasureRequest[]> {
  const q = parseInput(ListErasuresQuery, query, "erasure query");
  const conditions: SQL[] = [];
  if (q.status !== undefined) conditions.push(eq(erasureRequests.status, q.status));
  if (q.userId !== undefined) conditions.push(eq(erasureRequests.userId, q.userId));
  const rows = await db
    .select()
    .from(erasureRequests)
    .where(and(...conditions))
    .orderBy(desc(erasureRequests.requestedAt), desc(erasureRequests.id))
    .limit(q.limit);
  return rows.map(toErasure);
}

/**
 * Requests needing an operator (for `propgate_erasures_overdue` and its alert): pending ones made
 * more than `olderThanSeconds` ago (the partner never acknowledged them), and those marked
 * overdue (not confirmed done within ERASURE_DEADLINE_DAYS, `markOverdueErasures`).
 */
export async function countOverdueErasures(
  db: Database,
  input: { olderThanSeconds: number },
): Promise<number> {
  const { olderThanSeconds } = parseInput(
    z.strictObject({
      olderThanSeconds: z
        .number()
        .min(0)
        .max(365 * 86_400),
    }),
    input,
    "overdue query",
  );
  const [row] = await db
    .select({ n: count() })
    .from(erasureRequests)
    .where(
      or(
        and(
          eq(erasureRequests.status, "pending"),
          lt(erasureRequests.requestedAt, sql`now() - make_interval(secs => ${olderThanSeconds})`),
        ),
        and(
          inArray(erasureRequests.status, ["pending", "accepted"]),
          isNotNull(erasureRequests.overdueSince),
        ),
      ),
    );
  return row?.n ?? 0;
}

/** Requests not yet acknowledged by the partner. */
export async function countPendingErasures(db: Database): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(erasureRequests)
    .where(eq(erasureRequests.status, "pending"));
  return row?.n ?? 0;
}
