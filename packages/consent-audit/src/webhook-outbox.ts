import type { PartnerEventType } from "@propgate/domain";
import {
  and,
  asc,
  count,
  desc,
  eq,
  gt,
  inArray,
  isNull,
  lt,
  lte,
  min,
  notExists,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { z } from "zod";
import type { Database } from "./database";
import { WEBHOOK_STATUSES, type WebhookStatus, webhookOutbox } from "./schema/journal";

export { WEBHOOK_STATUSES };

import { parseInput } from "./validation";

/** One queued webhook message as the worker sends it. */
export interface WebhookMessage {
  seq: number;
  /** `msg_…`, the `webhook-id`. */
  id: string;
  userId: string;
  eventType: PartnerEventType;
  payload: unknown;
  attempts: number;
}

/** One row as an admin sees it: no payload, only what says where it stands. */
export interface WebhookOutboxRow {
  seq: number;
  id: string;
  userId: string;
  eventType: PartnerEventType;
  status: WebhookStatus;
  attempts: number;
  /** Short code of the last failure (`http_503`, `timeout`), never the receiver's text. */
  lastError: string | null;
  nextAttemptAt: string;
  createdAt: string;
  deliveredAt: string | null;
}

const ClaimInput = z.strictObject({
  limit: z.number().int().min(1).max(500),
  /** How long the claim holds before another worker may take the message again. */
  leaseSeconds: z.number().positive().max(3600),
  /**
   * How long a failing message holds back its resident's later ones: past it, it is retried on
   * its own and the rest go on (one poison message must not silence a resident's rings forever).
   */
  orderHoldSeconds: z
    .number()
    .positive()
    .max(7 * 86_400),
});

/**
 * Claims up to `limit` due messages and leases them for `leaseSeconds`. Due: pending, its next
 * attempt reached, not leased by a live worker, and the oldest pending one of its resident — so
 * each resident's messages go out one at a time in `seq` order, a failing one holding back the
 * later ones for at most `orderHoldSeconds` after it was queued. `call.incoming` (priority 0) is claimed before the rest. `FOR UPDATE SKIP LOCKED`
 * and the lease keep two instances from sending one message at once.
 */
export async function claimDueWebhooks(
  db: Database,
  input: { limit: number; leaseSeconds: number; orderHoldSeconds: number },
): Promise<WebhookMessage[]> {
  const claim = parseInput(ClaimInput, input, "webhook claim");
  const earlier = alias(webhookOutbox, "earlier");
  const due = db
    .select({ seq: webhookOutbox.seq })
    .from(webhookOutbox)
    .where(
      and(
        eq(webhookOutbox.status, "pending"),
        lte(webhookOutbox.nextAttemptAt, sql`now()`),
        or(isNull(webhookOutbox.leasedUntil), lte(webhookOutbox.leasedUntil, sql`now()`)),
        notExists(
          db
            .select({ seq: earlier.seq })
            .from(earlier)
            .where(
              and(
                eq(earlier.userId, webhookOutbox.userId),
                eq(earlier.status, "pending"),
                lt(earlier.seq, webhookOutbox.seq),
                gt(
                  earlier.createdAt,
                  sql`now() - make_interval(secs => ${claim.orderHoldSeconds})`,
                ),
              ),
            ),
        ),
      ),
    )
    .orderBy(asc(webhookOutbox.priority), asc(webhookOutbox.seq))
    .limit(claim.limit)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(webhookOutbox)
    .set({ leasedUntil: sql`now() + make_interval(secs => ${claim.leaseSeconds})` })
    .where(inArray(webhookOutbox.seq, due))
    .returning({
      seq: webhookOutbox.seq,
      id: webhookOutbox.id,
      userId: webhookOutbox.userId,
      eventType: webhookOutbox.eventType,
      payload: webhookOutbox.payload,
      attempts: webhookOutbox.attempts,
    });
  return rows.sort((a, b) => a.seq - b.seq);
}

/**
 * Marks messages delivered (tenant-core answered 2xx), in one statement and one commit: none is
 * ever sent again. A message delivered already, or gone with its journal, changes nothing.
 */
export async function markWebhooksDelivered(db: Database, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  await db
    .update(webhookOutbox)
    .set({ status: "delivered", deliveredAt: sql`now()`, leasedUntil: null })
    .where(and(inArray(webhookOutbox.seq, [...seqs]), eq(webhookOutbox.status, "pending")));
}

const FailInput = z.strictObject({
  errorCode: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/),
  retryInSeconds: z
    .number()
    .min(0)
    .max(30 * 86_400),
});

/**
 * Records a failed attempt: `attempts + 1`, the short `errorCode` and the next try at
 * `now() + retryInSeconds` (the caller's back-off); the lease is given back.
 */
export async function failWebhookAttempt(
  db: Database,
  seq: number,
  input: { errorCode: string; retryInSeconds: number },
): Promise<void> {
  const failure = parseInput(FailInput, input, "webhook failure");
  await db
    .update(webhookOutbox)
    .set({
      attempts: sql`${webhookOutbox.attempts} + 1`,
      lastError: failure.errorCode,
      nextAttemptAt: sql`now() + make_interval(secs => ${failure.retryInSeconds})`,
      leasedUntil: null,
    })
    .where(and(eq(webhookOutbox.seq, seq), eq(webhookOutbox.status, "pending")));
}

/** Where the outbox stands, for metrics and the admin screen. */
export interface WebhookOutboxStats {
  pending: number;
  delivered: number;
  /** Seconds since the oldest pending message was queued; 0 when none is. */
  oldestPendingSeconds: number;
  /** Pending messages queued more than `overdueSeconds` ago. */
  overdue: number;
}

/** Counts of the outbox; `overdueSeconds` sets what counts as overdue. */
export async function webhookOutboxStats(
  db: Database,
  input: { overdueSeconds: number },
): Promise<WebhookOutboxStats> {
  const { overdueSeconds } = parseInput(
    z.strictObject({
      overdueSeconds: z
        .number()
        .min(0)
        .max(365 * 86_400),
    }),
    input,
    "webhook outbox stats",
  );
  const [pending] = await db
    .select({
      n: count(),
      oldest: min(webhookOutbox.createdAt),
      overdue:
        sql<number>`count(*) filter (where ${webhookOutbox.createdAt} < now() - make_interval(secs => ${overdueSeconds}))`.mapWith(
          Number,
        ),
      now: sql<Date>`now()`.mapWith(webhookOutbox.createdAt),
    })
    .from(webhookOutbox)
    .where(eq(webhookOutbox.status, "pending"));
  const [delivered] = await db
    .select({ n: count() })
    .from(webhookOutbox)
    .where(eq(webhookOutbox.status, "delivered"));
  const oldest = pending?.oldest ?? null;
  return {
    pending: pending?.n ?? 0,
    delivered: delivered?.n ?? 0,
    oldestPendingSeconds:
      oldest === null || pending?.now === undefined
        ? 0
        : Math.max(0, (pending.now.getTime() - new Date(oldest).getTime()) / 1000),
    overdue: pending?.overdue ?? 0,
  };
}

const ListWebhookOutboxQuery = z.strictObject({
  status: z.enum(WEBHOOK_STATUSES).optional(),
  userId: z.string().min(1).max(128).optional(),
  /** The `seq` of the last row of the page before: the next page is older. */
  before: z.number().int().positive().optional(),
  limit: z.number().int().min(1).max(500).default(100),
});
export type ListWebhookOutboxQuery = z.input<typeof ListWebhookOutboxQuery>;

/** Outbox rows for admins, newest first, without their payload. */
export async function listWebhookOutbox(
  db: Database,
  query: ListWebhookOutboxQuery = {},
): Promise<WebhookOutboxRow[]> {
  const q = parseInput(ListWebhookOutboxQuery, query, "webhook outbox query");
  const conditions: SQL[] = [];
  if (q.status !== undefined) conditions.push(eq(webhookOutbox.status, q.status));
  if (q.userId !== undefined) conditions.push(eq(webhookOutbox.userId, q.userId));
  if (q.before !== undefined) conditions.push(lt(webhookOutbox.seq, q.before));
  const rows = await db
    .select({
      seq: webhookOutbox.seq,
      id: webhookOutbox.id,
      userId: webhookOutbox.userId,
      eventType: webhookOutbox.eventType,
      status: webhookOutbox.status,
      attempts: webhookOutbox.attempts,
      lastError: webhookOutbox.lastError,
      nextAttemptAt: webhookOutbox.nextAttemptAt,
      createdAt: webhookOutbox.createdAt,
      deliveredAt: webhookOutbox.deliveredAt,
    })
    .from(webhookOutbox)
    .where(and(...conditions))
    .orderBy(desc(webhookOutbox.seq))
    .limit(q.limit);
  return rows.map((row) => ({
    ...row,
    nextAttemptAt: row.nextAttemptAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
  }));
}
