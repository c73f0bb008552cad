import {
  DeviceRecord,
  ERASURE_STATUSES,
  listAllDevices,
  listAuditEvents,
  listConsents,
  listErasures,
  revokeConsent,
  upsertDevices,
  verifyAuditChain,
} from "@propgate/consent-audit";
import { AUDIT_KINDS, AUDIT_OPERATIONS, PURPOSES, UserId } from "@propgate/domain";
import { z } from "zod";
import { adminProcedure, router } from "../trpc.ts";

const AuditQuery = z.strictObject({
  userId: UserId.optional(),
  operation: z.enum(AUDIT_OPERATIONS).optional(),
  kind: z.enum(AUDIT_KINDS).optional(),
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
          status: z.enum(ERASURE_STATUSES).optional(),
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
    verify: adminProcedure.query(({ ctx }) =>
      verifyAuditChain(ctx.deps.database.db, { publicKey: ctx.deps.auditVerifyKey ?? undefined }),
    ),
  }),
});
