import { DeviceId, newId, SiteId, UserId } from "@propgate/domain";
import { and, asc, count, eq, gt, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "./database";
import {
  GUEST_KEY_END_REASONS,
  type GuestKeyEndReason,
  type GuestKeyState,
  PARTNERS,
} from "./purposes";
import { devices } from "./schema/devices";
import { guestKeys } from "./schema/guest-keys";
import { parseInput } from "./validation";

/**
 * Guest keys (the `guest_keys` table): what Propgate keeps of a key it had a partner issue — ids,
 * doors, validity, the resident's label and state, never the code or QR. The table is also the
 * durable queue that ends keys at the partner (`requestKeyEnd*` queue, a worker claims, then
 * completes or fails), modelled on video sessions' end queue.
 */

export interface GuestKey {
  id: string;
  userId: string;
  partner: string;
  partnerKeyId: string;
  siteId: string;
  deviceIds: string[];
  validFrom: string;
  validUntil: string;
  maxUses: number | null;
  label: string | null;
  state: GuestKeyState;
  endReason: GuestKeyEndReason | null;
  createdAt: string;
  endRequestedAt: string | null;
  endedAt: string | null;
  /** Failed `DELETE`s at the partner so far, and the last one's short code (`http_503`). */
  endAttempts: number;
  endLastError: string | null;
}

function toKey(row: typeof guestKeys.$inferSelect): GuestKey {
  return {
    id: row.id,
    userId: row.userId,
    partner: row.partner,
    partnerKeyId: row.partnerKeyId,
    siteId: row.siteId,
    deviceIds: row.deviceIds,
    validFrom: row.validFrom.toISOString(),
    validUntil: row.validUntil.toISOString(),
    maxUses: row.maxUses,
    label: row.label,
    state: row.state,
    endReason: row.endReason,
    createdAt: row.createdAt.toISOString(),
    endRequestedAt: row.endRequestedAt?.toISOString() ?? null,
    endedAt: row.endedAt?.toISOString() ?? null,
    endAttempts: row.endAttempts,
    endLastError: row.endLastError,
  };
}

/** The resident's idempotency key, as `@propgate/client` makes them (and opens accept). */
const ResidentIdempotencyKey = z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/);
/** The resident's words for a key: already minimised by the caller, checked again here. */
const Label = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[^\p{Cc}\p{Cf}]+$/u, "no control or format characters");

const RecordKeyInput = z
  .strictObject({
    userId: UserId,
    partner: z.enum(PARTNERS),
    partnerKeyId: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
    siteId: SiteId,
    deviceIds: z.array(DeviceId).min(1).max(20),
    validFrom: z.iso.datetime({ offset: true }),
    validUntil: z.iso.datetime({ offset: true }),
    maxUses: z.number().int().min(1).max(1000).nullish(),
    label: Label.nullish(),
    idempotencyKey: ResidentIdempotencyKey.nullish(),
  })
  .refine((key) => Date.parse(key.validUntil) > Date.parse(key.validFrom), {
    message: "validUntil must be after validFrom",
    path: ["validUntil"],
  });
export type RecordKeyInput = z.input<typeof RecordKeyInput>;

/**
 * Records a key once the partner issued it. A second record with the resident's idempotency key
 * (a retried create, which the partner answered with the same key) returns the first row and
 * `created: false`; the code is never an input here.
 */
export async function recordKey(
  db: Database,
  input: RecordKeyInput,
): Promise<{ key: GuestKey; created: boolean }> {
  const key = parseInput(RecordKeyInput, input, "guest key");
  const [row] = await db
    .insert(guestKeys)
    .values({
      id: newId("key"),
      userId: key.userId,
      partner: key.partner,
      partnerKeyId: key.partnerKeyId,
      siteId: key.siteId,
      deviceIds: key.deviceIds,
      validFrom: new Date(key.validFrom),
      validUntil: new Date(key.validUntil),
      maxUses: key.maxUses ?? null,
      label: key.label ?? null,
      idempotencyKey: key.idempotencyKey ?? null,
    })
    .onConflictDoNothing({ target: [guestKeys.userId, guestKeys.idempotencyKey] })
    .returning();
  if (row) return { key: toKey(row), created: true };
  const first = await findKeyByIdempotencyKey(db, key.userId, key.idempotencyKey ?? "");
  if (!first) throw new Error("guest key: idempotency conflict without a first key");
  return { key: first, created: false };
}

/** Namespace of the per-resident lock that puts concurrent key records in one order. */
const KEY_LIMIT_LOCK_NAMESPACE = 740_213;

/**
 * `recordKey`, then the limit: records of one resident's keys take turns (a transaction-scoped
 * advisory lock), so each counts every key recorded before it, and one that makes more than
 * `maxActive` active keys is queued to end again (`over_limit`) in the same transaction. Exactly
 * `maxActive` of any number of creates at once stay, whatever order they commit in; a retried
 * create (`created: false`) is never over.
 */
export async function recordKeyWithinLimit(
  db: Database,
  input: RecordKeyInput,
  maxActive: number,
): Promise<{ key: GuestKey; created: boolean; overLimit: boolean }> {
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`select pg_advisory_xact_lock(${KEY_LIMIT_LOCK_NAMESPACE}, hashtext(${input.userId}))`,
    );
    const recorded = await recordKey(tx, input);
    if (!recorded.created || (await countActiveKeys(tx, input.userId)) <= maxActive)
      return { ...recorded, overLimit: false };
    await requestKeyEnd(tx, { id: recorded.key.id, userId: input.userId, reason: "over_limit" });
    return { ...recorded, overLimit: true };
  });
}

/** The key a resident's earlier create with this idempotency key made, or null. */
export async function findKeyByIdempotencyKey(
  db: Database,
  userId: string,
  idempotencyKey: string,
): Promise<GuestKey | null> {
  const [row] = await db
    .select()
    .from(guestKeys)
    .where(and(eq(guestKeys.userId, userId), eq(guestKeys.idempotencyKey, idempotencyKey)));
  return row ? toKey(row) : null;
}

/** The resident's key by id, in any state, or null (another resident's key is not found either). */
export async function getKey(db: Database, id: string, userId: string): Promise<GuestKey | null> {
  const [row] = await db
    .select()
    .from(guestKeys)
    .where(and(eq(guestKeys.id, id), eq(guestKeys.userId, userId)));
  return row ? toKey(row) : null;
}

/** Active and still valid: what the resident sees and what counts against their limit. */
const activeOf = (userId: string) =>
  and(
    eq(guestKeys.userId, userId),
    eq(guestKeys.state, "active"),
    gt(guestKeys.validUntil, sql`now()`),
  );

/** The resident's active keys, oldest first (a key asked to end is gone from here at once). */
export async function listKeys(db: Database, userId: string): Promise<GuestKey[]> {
  const rows = await db
    .select()
    .from(guestKeys)
    .where(activeOf(userId))
    .orderBy(asc(guestKeys.createdAt), asc(guestKeys.id));
  return rows.map(toKey);
}

/** How many active keys the resident has (for `GUEST_KEYS_MAX_ACTIVE`). */
export async function countActiveKeys(db: Database, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(guestKeys).where(activeOf(userId));
  return row?.n ?? 0;
}

/**
 * Queues active keys to be ended at the partner (`ending`, due now); a key past its validity is
 * queued too, as the partner may still hold it. Returns the ids queued.
 */
async function requestEnd(
  db: Database,
  where: SQL | undefined,
  reason: GuestKeyEndReason,
): Promise<string[]> {
  const rows = await db
    .update(guestKeys)
    .set({
      state: "ending",
      endReason: reason,
      endRequestedAt: sql`now()`,
      endNextAttemptAt: sql`now()`,
    })
    .where(and(eq(guestKeys.state, "active"), where))
    .returning({ id: guestKeys.id });
  return rows.map((row) => row.id);
}

const EndReason = z.enum(GUEST_KEY_END_REASONS);

/**
 * One key of the resident queued to end (the resident's revoke, `resident`, or an operator's,
 * `admin`). False when it is not theirs, or ended or queued already.
 */
export async function requestKeyEnd(
  db: Database,
  input: { id: string; userId: string; reason: GuestKeyEndReason },
): Promise<boolean> {
  const reason = parseInput(EndReason, input.reason, "guest key end reason");
  const ids = await requestEnd(
    db,
    and(eq(guestKeys.id, input.id), eq(guestKeys.userId, input.userId)),
    reason,
  );
  return ids.length > 0;
}

const ResidentEnds = z.strictObject({
  userId: UserId,
  reason: EndReason,
  /** Only keys at sites not in this list (the sites of the resident's current token). */
  keepSites: z.array(SiteId).max(1000).optional(),
});

/**
 * Every active key of a resident queued to end: their `guests` consent revoked, a block, their
 * erasure — or, with `keepSites`, the keys at sites no longer theirs. Run it in the transaction
 * of the cause so `keys.list` stops listing them at once. Returns the ids queued.
 */
export function requestKeyEnds(
  db: Database,
  input: { userId: string; reason: GuestKeyEndReason; keepSites?: string[] },
): Promise<string[]> {
  const ends = parseInput(ResidentEnds, input, "guest key ends");
  const offSites =
    ends.keepSites === undefined || ends.keepSites.length === 0
      ? undefined
      : sql`not (${guestKeys.siteId} = any(${sql.param(ends.keepSites)}::text[]))`;
  return requestEnd(db, and(eq(guestKeys.userId, ends.userId), offSites), ends.reason);
}

/**
 * Active keys one of whose doors left the registry or moved to another site: the partner's key
 * would open a door that is no longer the resident's (a key cannot lose one door, so it ends
 * whole, as `site_removed`). Run on every pass of the end queue. Returns the ids queued.
 */
export function requestEndOfMovedDeviceKeys(db: Database): Promise<string[]> {
  return requestEnd(
    db,
    sql`exists (select 1 from unnest(${guestKeys.deviceIds}) as door(id)
      where not exists (select 1 from ${devices} d
        where d.id = door.id and d.site_id is not distinct from ${guestKeys.siteId}))`,
    "site_removed",
  );
}

const ClaimInput = z.strictObject({
  limit: z.number().int().min(1).max(500),
  leaseSeconds: z.number().positive().max(3600),
});

/**
 * Claims keys to end at the partner: `ending` and due. `FOR UPDATE SKIP LOCKED` and the lease
 * (the next attempt pushed `leaseSeconds` ahead) let several instances share the queue.
 */
export async function claimDueKeyEnds(
  db: Database,
  input: { limit: number; leaseSeconds: number },
): Promise<GuestKey[]> {
  const claim = parseInput(ClaimInput, input, "guest key end claim");
  const due = db
    .select({ id: guestKeys.id })
    .from(guestKeys)
    .where(
      and(
        eq(guestKeys.state, "ending"),
        sql`coalesce(${guestKeys.endNextAttemptAt}, '-infinity') <= now()`,
      ),
    )
    .orderBy(asc(guestKeys.endNextAttemptAt))
    .limit(claim.limit)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(guestKeys)
    .set({ endNextAttemptAt: sql`now() + make_interval(secs => ${claim.leaseSeconds})` })
    .where(inArray(guestKeys.id, due))
    .returning();
  return rows.map(toKey);
}

/** The partner confirmed the end (2xx, or 404/410: nothing left there). Idempotent. */
export async function completeKeyEnd(db: Database, id: string): Promise<boolean> {
  const rows = await db
    .update(guestKeys)
    .set({ state: "ended", endedAt: sql`now()` })
    .where(and(eq(guestKeys.id, id), eq(guestKeys.state, "ending")))
    .returning({ id: guestKeys.id });
  return rows.length > 0;
}

const FailInput = z.strictObject({
  errorCode: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/),
  retryInSeconds: z.number().min(0).max(86_400),
});

/** A failed `DELETE`: attempts + 1, the short code, the next try at `now() + retryInSeconds`. */
export async function failKeyEndAttempt(
  db: Database,
  id: string,
  input: { errorCode: string; retryInSeconds: number },
): Promise<void> {
  const failure = parseInput(FailInput, input, "guest key end failure");
  await db
    .update(guestKeys)
    .set({
      endAttempts: sql`${guestKeys.endAttempts} + 1`,
      endLastError: failure.errorCode,
      endNextAttemptAt: sql`now() + make_interval(secs => ${failure.retryInSeconds})`,
    })
    .where(and(eq(guestKeys.id, id), eq(guestKeys.state, "ending")));
}

/**
 * Keys past their validity, ended without a call: the partner stops accepting the code at
 * `validUntil` itself. Returns how many.
 */
export async function endExpiredKeys(db: Database): Promise<number> {
  const rows = await db
    .update(guestKeys)
    .set({ state: "ended", endReason: "expired", endedAt: sql`now()` })
    .where(and(eq(guestKeys.state, "active"), sql`${guestKeys.validUntil} <= now()`))
    .returning({ id: guestKeys.id });
  return rows.length;
}

/** Keys waiting to be ended at the partner (for a gauge and its alert). */
export async function countEndingKeys(db: Database): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(guestKeys)
    .where(and(eq(guestKeys.state, "ending"), isNull(guestKeys.endedAt)));
  return row?.n ?? 0;
}
