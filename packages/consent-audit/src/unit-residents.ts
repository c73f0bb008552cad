import { PARTNERS, type Partner, PartnerUnitId, SiteId, UnitId, UserId } from "@propgate/domain";
import { and, eq, gte, notInArray, sql } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, contextFields, recordAuditEvent } from "./audit";
import type { Database } from "./database";
import { InvalidInputError } from "./errors";
import { errorCode } from "./pg-errors";
import { unitResidents, units } from "./schema/journal";
import { parseInput } from "./validation";

/** A flat: tenant-core's unit id and the partner's id of it (what partners name in events). */
export const UnitRecord = z.strictObject({
  id: UnitId,
  partner: z.enum(PARTNERS),
  partnerUnitId: PartnerUnitId,
  siteId: SiteId,
});
export type UnitRecord = z.infer<typeof UnitRecord>;

/** The most unit ids one resident's token may carry (the `units` claim's bound). */
export const MAX_UNITS_PER_RESIDENT = 50;

const UnitBatch = z.array(UnitRecord).max(1000);

/**
 * Inserts or updates units by id, all of them or none, with an `admin.units.upsert` audit row
 * per unit (who mapped which flat). A partner unit already mapped to another unit id is
 * `InvalidInputError`.
 */
export async function upsertUnits(
  db: Database,
  records: readonly UnitRecord[],
  audit: AuditContext,
): Promise<void> {
  const batch = parseInput(UnitBatch, records, "unit records");
  if (batch.length === 0) return;
  try {
    await db.transaction(async (tx) => {
      await tx
        .insert(units)
        .values(batch)
        .onConflictDoUpdate({
          target: units.id,
          set: {
            partner: sql.raw("excluded.partner"),
            partnerUnitId: sql.raw("excluded.partner_unit_id"),
            siteId: sql.raw("excluded.site_id"),
            updatedAt: sql`now()`,
          },
        });
      // Audit rows last: they take the chain lock, which is held until commit.
      for (const record of batch) {
        await recordAuditEvent(tx, {
          ...contextFields(audit),
          kind: "admin.units.upsert",
          partner: record.partner,
          target: record.id,
          result: "ok",
        });
      }
    });
  } catch (err) {
    if (errorCode(err) === "23505" || errorCode(err) === "21000") {
      throw new InvalidInputError("invalid unit records", [
        "partnerUnitId: that partner unit is mapped to another unit id (or listed twice)",
      ]);
    }
    throw err;
  }
}

/** Our unit behind a partner's flat id, or null when none is mapped. */
export async function getUnitByPartnerId(
  db: Database,
  partner: Partner,
  partnerUnitId: string,
): Promise<UnitRecord | null> {
  const [row] = await db
    .select({
      id: units.id,
      partner: units.partner,
      partnerUnitId: units.partnerUnitId,
      siteId: units.siteId,
    })
    .from(units)
    .where(and(eq(units.partner, partner), eq(units.partnerUnitId, partnerUnitId)))
    .limit(1);
  return row ?? null;
}

const ConfirmUnitsInput = z.strictObject({
  userId: UserId,
  unitIds: z.array(UnitId).max(MAX_UNITS_PER_RESIDENT),
});

/**
 * The resident's units as their token names them now: each membership confirmed now, and the
 * ones the token no longer names forgotten (a resident who moved out is told nothing more).
 */
export async function confirmUnits(
  db: Database,
  userId: string,
  unitIds: readonly string[],
): Promise<void> {
  const input = parseInput(ConfirmUnitsInput, { userId, unitIds }, "unit membership");
  const ids = [...new Set(input.unitIds)].sort();
  await db.transaction(async (tx) => {
    await tx
      .delete(unitResidents)
      .where(
        ids.length > 0
          ? and(eq(unitResidents.userId, input.userId), notInArray(unitResidents.unitId, ids))
          : eq(unitResidents.userId, input.userId),
      );
    if (ids.length === 0) return;
    await tx
      .insert(unitResidents)
      .values(ids.map((unitId) => ({ unitId, userId: input.userId, confirmedAt: sql`now()` })))
      .onConflictDoUpdate({
        target: [unitResidents.unitId, unitResidents.userId],
        set: { confirmedAt: sql`now()` },
      });
  });
}

const MaxAgeSeconds = z
  .number()
  .positive()
  .max(3650 * 86_400);

/**
 * The residents of a unit whose token named it within the last `maxAgeSeconds`: a membership
 * nobody confirmed for longer (the resident stopped using the app, or moved) addresses no one.
 */
export async function residentsOfUnit(
  db: Database,
  unitId: string,
  maxAgeSeconds: number,
): Promise<string[]> {
  const id = parseInput(UnitId, unitId, "unit id");
  const age = parseInput(MaxAgeSeconds, maxAgeSeconds, "membership max age");
  const rows = await db
    .select({ userId: unitResidents.userId })
    .from(unitResidents)
    .where(
      and(
        eq(unitResidents.unitId, id),
        gte(unitResidents.confirmedAt, sql`now() - make_interval(secs => ${age})`),
      ),
    )
    .orderBy(unitResidents.userId);
  return rows.map((row) => row.userId);
}
