import {
  DeviceRecord,
  listAllDevices,
  listAuditEvents,
  upsertDevices,
} from "@propgate/consent-audit";
import { z } from "zod";
import { adminProcedure, router } from "../trpc/init.ts";

const AuditQuery = z.strictObject({
  userId: z.string().min(1).max(128).optional(),
  operation: z
    .string()
    .regex(/^[a-z.]{1,64}$/)
    .optional(),
  kind: z
    .string()
    .regex(/^[a-z.]{1,64}$/)
    .optional(),
  limit: z.number().int().min(1).max(500).default(100),
  beforeSeq: z.number().int().min(1).optional(),
});

export const adminRouter = router({
  devices: router({
    list: adminProcedure.query(({ ctx }) => listAllDevices(ctx.deps.database.db)),
    upsert: adminProcedure
      .input(z.strictObject({ devices: z.array(DeviceRecord).min(1).max(1000) }))
      .mutation(async ({ ctx, input }) => {
        await upsertDevices(ctx.deps.database.db, input.devices, ctx.audit);
        return { upserted: input.devices.length };
      }),
  }),
  audit: router({
    list: adminProcedure
      .input(AuditQuery)
      .query(({ ctx, input }) => listAuditEvents(ctx.deps.database.db, input)),
  }),
});
