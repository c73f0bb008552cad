import {
  DeviceRecord,
  ERASURE_STATUSES,
  liftBlock,
  listAllDevices,
  listAnomalies,
  listAuditEvents,
  listBlocks,
  listConsents,
  listErasures,
  listVideoSessions,
  partnerHealthReport,
  revokeConsent,
  upsertDevices,
  verifyAuditChain,
} from "@propgate/consent-audit";
import {
  ANOMALY_KINDS,
  AUDIT_KINDS,
  AUDIT_OPERATIONS,
  BLOCK_SUBJECT_TYPES,
  PURPOSES,
  TypedId,
  UserId,
} from "@propgate/domain";
import { z } from "zod";
import { adminProcedure, router } from "../trpc.ts";

const AuditQuery = z.strictObject({
  userId: UserId.optional(),
  operation: z.enum(AUDIT_OPERATIONS).optional(),
  kind: z.enum(AUDIT_KINDS).optional(),
  limit: z.number().int().min(1).max(500).default(100),
  beforeSeq: z.number().int().min(1).optional(),
});

const WatchQuery = z.strictObject({
  kind: z.enum(ANOMALY_KINDS).optional(),
  subjectType: z.enum(BLOCK_SUBJECT_TYPES).optional(),
  subjectId: z.string().min(1).max(128).optional(),
  /** ISO-8601: only what was seen (anomalies) or placed (blocks) after it. */
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.number().int().min(1).max(500).default(100),
});
const since = (value: string | undefined) => (value ? new Date(value) : undefined);

export const adminRouter = router({
  partners: router({
    /** What the health probe last saw per partner and check, and the recent transitions. */
    health: adminProcedure
      .input(
        z.strictObject({ transitions: z.number().int().min(1).max(500).default(50) }).optional(),
      )
      .query(({ ctx, input }) => partnerHealthReport(ctx.deps.database.db, input)),
  }),
  anomalies: router({
    list: adminProcedure
      .input(WatchQuery.optional())
      .query(({ ctx, input }) =>
        listAnomalies(ctx.deps.database.db, { ...input, since: since(input?.since) }),
      ),
  }),
  blocks: router({
    list: adminProcedure
      .input(WatchQuery.extend({ activeOnly: z.boolean().optional() }).optional())
      .query(({ ctx, input }) =>
        listBlocks(ctx.deps.database.db, { ...input, since: since(input?.since) }),
      ),
    /** Ends a block early; the reason is kept with the block and the admin's id audited. */
    lift: adminProcedure
      .input(z.strictObject({ blockId: TypedId("blk"), reason: z.string().trim().min(3).max(500) }))
      .mutation(async ({ ctx, input }) => {
        const block = await liftBlock(
          ctx.deps.database.db,
          { ...input, actor: `admin:${ctx.principal.userId}` },
          ctx.audit,
        );
        // This instance stops enforcing at once; the others on the announcement.
        await ctx.deps.watch.blocks.reload();
        return block;
      }),
  }),
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
  videoSessions: router({
    /** Live sessions, and those being ended at the partner (attempts, last error), newest first. */
    list: adminProcedure
      .input(
        z.strictObject({
          userId: UserId.optional(),
          state: z.enum(["live", "ending", "ended"]).optional(),
          limit: z.number().int().min(1).max(500).default(100),
        }),
      )
      .query(async ({ ctx, input }) =>
        (await listVideoSessions(ctx.deps.database.db, input)).map(
          ({ sessionPath: _path, ...session }) => session,
        ),
      ),
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
