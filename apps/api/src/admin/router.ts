import {
  DeviceRecord,
  listAllDevices,
  listAuditEvents,
  listConsents,
  listErasures,
  PURPOSES,
  revokeConsent,
  upsertDevices,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { z } from "zod";
import { adminProcedure, router } from "../trpc/init.ts";

const UserId = z.string().regex(/^[A-Za-z0-9._:@|-]{1,128}$/, "userId must be an opaque user id");

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
  consents: router({
    list: adminProcedure
      .input(z.strictObject({ userId: UserId }))
      .query(({ ctx, input }) => listConsents(ctx.deps.database.db, input.userId)),
    /** Revokes on the resident's behalf (e.g. a written request); the reason is kept. */
    revoke: adminProcedure
      .input(
        z.strictObject({
          userId: UserId,
          purpose: z.enum(PURPOSES),
          reason: z.string().min(3).max(500),
        }),
      )
      .mutation(async ({ ctx, input }) => {
        await revokeConsent(
          ctx.deps.database.db,
          {
            userId: input.userId,
            purpose: input.purpose,
            channel: "admin",
            method: "admin_action",
            actor: `admin:${ctx.principal.userId}`,
            reason: input.reason,
          },
          ctx.audit,
        );
        return listConsents(ctx.deps.database.db, input.userId);
      }),
  }),
  erasures: router({
    list: adminProcedure
      .input(
        z.strictObject({
          userId: UserId.optional(),
          status: z.enum(["pending", "done"]).optional(),
          limit: z.number().int().min(1).max(500).default(100),
        }),
      )
      .query(({ ctx, input }) => listErasures(ctx.deps.database.db, input)),
  }),
  audit: router({
    list: adminProcedure
      .input(AuditQuery)
      .query(({ ctx, input }) => listAuditEvents(ctx.deps.database.db, input)),
    /** Recomputes the hash chain: any edited, deleted or inserted row is reported. */
    verify: adminProcedure.query(({ ctx }) => verifyAuditChain(ctx.deps.database.db)),
  }),
});
