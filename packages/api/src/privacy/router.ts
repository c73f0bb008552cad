import { z } from "zod";
import { enforceRateLimit } from "../rate-limits/enforce.ts";
import { residentProcedure, router } from "../trpc.ts";
import { producePrivacyReport } from "./report.ts";

/** The report as served: the JSON text as signed, and its detached JWS (`report.ts`). */
export const SignedPrivacyReport = z.object({
  document: z.string(),
  jws: z.string().nullable(),
});

export const privacyRouter = router({
  /**
   * Everything Propgate holds about the caller, signed (152-FZ art. 14). A mutation: each call
   * writes a `privacy.report` audit row and answers a new report, so nothing may cache or
   * replay it. Limited per resident (RATE_LIMIT_PRIVACY_REPORTS_PER_HOUR); never blocked.
   */
  report: residentProcedure.output(SignedPrivacyReport).mutation(async ({ ctx }) => {
    const { userId } = ctx.principal;
    await enforceRateLimit(ctx.deps.rateLimits, ctx.responseHeaders, "privacy_report", userId);
    return producePrivacyReport(
      {
        database: ctx.deps.database,
        signer: ctx.deps.receiptSigner,
        statementTimeoutMs: ctx.deps.adminReads.readStatementTimeoutMs,
      },
      { userId, audit: ctx.audit, kind: "privacy.report" },
    );
  }),
});
