import { TypedId, UserId } from "@propgate/domain";
import { and, asc, eq, gt, or, sql } from "drizzle-orm";
import { type AuditContext, contextFields, lockAuditChain, recordAuditEvent } from "./audit";
import type { Database } from "./database";
import { type GuestKey, getKey, requestKeyEnd } from "./guest-keys";
import { PARTNERS } from "./purposes";
import { guestKeys } from "./schema/guest-keys";
import { parseInput } from "./validation";

/** What an admin sees of a key: never a code (none is kept), nor the partner's key id. */
export type AdminGuestKey = Omit<GuestKey, "partnerKeyId">;

const shown = (key: GuestKey): AdminGuestKey => {
  const { partnerKeyId: _partnerKeyId, ...rest } = key;
  return rest;
};

/**
 * A resident's keys an admin acts on: active and still valid, and those queued to end at the
 * partner (`ending`, with attempts and the last error), oldest first. Ended keys are history.
 */
export async function listKeysForAdmin(db: Database, userId: string): Promise<AdminGuestKey[]> {
  const id = parseInput(UserId, userId, "user id");
  const rows = await db
    .select()
    .from(guestKeys)
    .where(
      and(
        eq(guestKeys.userId, id),
        or(
          and(eq(guestKeys.state, "active"), gt(guestKeys.validUntil, sql`now()`)),
          eq(guestKeys.state, "ending"),
        ),
      ),
    )
    .orderBy(asc(guestKeys.createdAt), asc(guestKeys.id));
  return rows.map((row) => {
    const { idempotencyKey: _idempotencyKey, endNextAttemptAt: _next, ...key } = row;
    return shown({
      ...key,
      validFrom: key.validFrom.toISOString(),
      validUntil: key.validUntil.toISOString(),
      createdAt: key.createdAt.toISOString(),
      endRequestedAt: key.endRequestedAt?.toISOString() ?? null,
      endedAt: key.endedAt?.toISOString() ?? null,
    });
  });
}

/**
 * An operator's end of a key (`admin.keys.revoke`): queued through the resident's own end path
 * (`requestKeyEnd`, reason `admin`; the end queue sends the partner's DELETE) and audited as
 * `admin.keys.revoke` (the admin as `actor`, their reason from `audit`; result `unchanged` when
 * it was ended or queued already), in one transaction. Null when there is no such key.
 */
export async function requestAdminKeyEnd(
  db: Database,
  keyId: string,
  audit: AuditContext,
): Promise<AdminGuestKey | null> {
  const id = parseInput(TypedId("key"), keyId, "key id");
  return db.transaction(async (tx) => {
    await lockAuditChain(tx);
    const [owner] = await tx
      .select({ userId: guestKeys.userId })
      .from(guestKeys)
      .where(eq(guestKeys.id, id));
    if (!owner) return null;
    const queued = await requestKeyEnd(tx, { id, userId: owner.userId, reason: "admin" });
    const key = await getKey(tx, id, owner.userId);
    if (!key) return null;
    await recordAuditEvent(tx, {
      ...contextFields(audit),
      kind: "admin.keys.revoke",
      result: queued ? "ok" : "unchanged",
      userId: key.userId,
      partner: PARTNERS.find((partner) => partner === key.partner) ?? null,
      purpose: "guests",
      operation: "keys.delete",
      target: key.id,
    });
    return shown(key);
  });
}
