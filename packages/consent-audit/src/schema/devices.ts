import { sql } from "drizzle-orm";
import { check, index, pgTable, text, timestamp, unique } from "drizzle-orm/pg-core";
import { DEVICE_KINDS, type DeviceKind, PARTNERS, type Partner } from "../purposes";
import { sqlInList } from "./sql-lists";

/** Doors, gates and cameras residents may use; ids are operator-chosen (`dev_door_1`). */
export const devices = pgTable(
  "devices",
  {
    id: text().primaryKey(),
    kind: text().$type<DeviceKind>().notNull(),
    siteId: text().notNull(),
    partner: text().$type<Partner>().notNull(),
    partnerDeviceId: text().notNull(),
    name: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("devices_partner_device_uq").on(t.partner, t.partnerDeviceId),
    index("devices_site_idx").on(t.siteId),
    check("devices_kind_ck", sql`${t.kind} in ${sqlInList(DEVICE_KINDS)}`),
    check("devices_partner_ck", sql`${t.partner} in ${sqlInList(PARTNERS)}`),
  ],
);
