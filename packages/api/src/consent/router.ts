import { grantConsent, listConsents, revokeConsent } from "@propgate/consent-audit";
import { PURPOSES } from "@propgate/domain";
import { z } from "zod";
import { residentProcedure, router } from "../trpc.ts";

const Purpose = z.enum(PURPOSES);

export const consentRouter = router({
  list: residentProcedure.query(({ ctx }) =>
    listConsents(ctx.deps.database.db, ctx.principal.userId),
  ),
  grant: residentProcedure
    .input(
      z.strictObject({ purpose: Purpose, noticeVersion: z.number().int().min(1).max(1_000_000) }),
    )
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
