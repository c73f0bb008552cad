import {
  DEVICE_KINDS,
  DeviceId,
  type DeviceKind,
  PARTNERS,
  type Partner,
  PartnerDeviceId,
  SiteId,
} from "@propgate/domain";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { type AuditContext, contextFields, recordAuditEvent } from "./audit";
import type { Database } from "./database";
import { InvalidInputError } from "./errors";
import { errorCode } from "./pg-errors";
import { devices } from "./schema/devices";
import { parseInput } from "./validation";

/** A device as an operator configures it; unknown fields are rejected. */
export const DeviceRecord = z.strictObject({
  id: DeviceId,
  kind: z.enum(DEVICE_KINDS),
  // The same format as the sites in residents' tokens: a device on any other site is unreachable.
  siteId: SiteId,
  partner: z.enum(PARTNERS),
  partnerDeviceId: PartnerDeviceId,
  name: z.string().min(1).max(100),
});
export type DeviceRecord = z.infer<typeof DeviceRecord>;

export interface Device {
  id: string;
  kind: DeviceKind;
  siteId: string;
  partner: Partner;
  partnerDeviceId: string;
  name: string;
  createdAt: string;
  updatedAt: string;
}

const MAX_BATCH = 1000;

const DeviceBatch = z
  .array(DeviceRecord)
  .max(MAX_BATCH)
  .superRefine((records, ctx) => {
    const ids = new Set<string>();
    const partnerIds = new Set<string>();
    records.forEach((record, i) => {
      const partnerKey = `${record.partner}/${record.partnerDeviceId}`;
      if (ids.has(record.id)) {
        ctx.addIssue({ code: "custom", path: [i, "id"], message: "duplicate device id in batch" });
      }
      if (partnerIds.has(partnerKey)) {
        ctx.addIssue({
          code: "custom",
          path: [i, "partnerDeviceId"],
          message: "duplicate partner device in batch",
        });
      }
      ids.add(record.id);
      partnerIds.add(partnerKey);
    });
  });

function toDevice(row: typeof devices.$inferSelect): Device {
  return { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}

/**
 * Validates every record first (nothing is written if one is bad), then inserts or updates them
 * by id in one transaction with one `admin.devices.upsert` audit row per device.
 */
export async function upsertDevices(
  db: Database,
  records: readonly DeviceRecord[],
  audit: AuditContext,
): Promise<Device[]> {
  const batch = parseInput(DeviceBatch, records, "device records");
  if (batch.length === 0) return [];
  try {
    return await db.transaction(async (tx) => {
      const now = new Date();
      const rows = await tx
        .insert(devices)
        .values(batch.map((record) => ({ ...record, createdAt: now, updatedAt: now })))
        .onConflictDoUpdate({
          target: devices.id,
          set: {
            kind: sql.raw("excluded.kind"),
            siteId: sql.raw("excluded.site_id"),
            partner: sql.raw("excluded.partner"),
            partnerDeviceId: sql.raw("excluded.partner_device_id"),
            name: sql.raw("excluded.name"),
            updatedAt: now,
          },
        })
        .returning();
      // Audit rows last: they take the chain lock, which is held until commit.
      for (const record of batch) {
        await recordAuditEvent(tx, {
          ...contextFields(audit),
          kind: "admin.devices.upsert",
          result: "ok",
          partner: record.partner,
          target: record.id,
        });
      }
      // Every instance's device cache drops what it holds when this commits.
      await tx.execute(sql`select pg_notify(${DEVICES_CHANNEL}, '')`);
      const byId = new Map(rows.map((row) => [row.id, toDevice(row)]));
      return batch.flatMap((record) => byId.get(record.id) ?? []);
    });
  } catch (err) {
    if (errorCode(err) === "23505") {
      throw new InvalidInputError("invalid device records", [
        "partnerDeviceId: that partner device is already mapped to another device id",
      ]);
    }
    throw err;
  }
}

/** Devices of the given sites (a resident's `sites` claim), ordered by site and name. */
export async function listDevicesForSites(
  db: Database,
  siteIds: readonly string[],
): Promise<Device[]> {
  if (siteIds.length === 0) return [];
  const rows = await db
    .select()
    .from(devices)
    .where(inArray(devices.siteId, [...siteIds]))
    .orderBy(asc(devices.siteId), asc(devices.name), asc(devices.id));
  return rows.map(toDevice);
}

export async function listAllDevices(db: Database): Promise<Device[]> {
  const rows = await db
    .select()
    .from(devices)
    .orderBy(asc(devices.siteId), asc(devices.name), asc(devices.id));
  return rows.map(toDevice);
}

export async function getDevice(db: Database, id: string): Promise<Device | null> {
  const [row] = await db.select().from(devices).where(eq(devices.id, id)).limit(1);
  return row ? toDevice(row) : null;
}

/** The NOTIFY channel on which a change to the device registry is announced. */
export const DEVICES_CHANNEL = "propgate_devices";

/** Our device behind a partner's own device id (what partners name when they call us). */
export async function getDeviceByPartnerId(
  db: Database,
  partner: Partner,
  partnerDeviceId: string,
): Promise<Device | null> {
  const [row] = await db
    .select()
    .from(devices)
    .where(and(eq(devices.partner, partner), eq(devices.partnerDeviceId, partnerDeviceId)))
    .limit(1);
  return row ? toDevice(row) : null;
}
