import { grantConsent, listConsents, revokeConsent } from "@propgate/consent-audit";
import { PURPOSES } from "@propgate/domain";
import { z } from "zod";
import { residentProcedure, router } from "../trpc.ts";

const Purpose = z.enum(PURPOSES);
/** Per purpose, the resident's decision and the notice it was made on (`listConsents`). */
const ConsentList = z.array(
  z.object({
    purpose: Purpose,
    state: z.enum(["granted", "revoked", "none"]),
    currentNoticeVersion: z.number().int().positive(),
    grantedNoticeVersion: z.number().int().positive().nullable(),
    updatedAt: z.iso.datetime().nullable(),
  }),
);

export const consentRouter = router({
  list: residentProcedure
    .output(ConsentList)
    .query(({ ctx }) => listConsents(ctx.deps.database.db, ctx.principal.userId)),
  grant: residentProcedure
    .input(
      z.strictObject({ purpose: Purpose, noticeVersion: z.number().int().min(1).max(1_000_000) }),
    )
    .output(ConsentList)
    .mutation(async ({ ctx, input }) => {
      await grantConsent(
        ctx.deps.database.db,
        {
          userId: ctx.principal.userId,
          purpose: input.purpose,
          noticeVersion: input.noticeVersion,
          channel: "app",
          method: "in_app_checkbox",
        },
        ctx.audit,
      );
      return listConsents(ctx.deps.database.db, ctx.principal.userId);
    }),
  revoke: residentProcedure
    .input(z.strictObject({ purpose: Purpose }))
    .output(ConsentList)
    .mutation(async ({ ctx, input }) => {
      await revokeConsent(
        ctx.deps.database.db,
        {
          userId: ctx.principal.userId,
          purpose: input.purpose,
          channel: "app",
          method: "in_app_toggle",
          actor: ctx.principal.userId,
        },
        ctx.audit,
      );
      return listConsents(ctx.deps.database.db, ctx.principal.userId);
    }),
});
