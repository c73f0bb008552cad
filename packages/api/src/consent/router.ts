import {
  type Database,
  grantConsent,
  listConsents,
  pageConsentReceiptEvents,
  revokeConsent,
} from "@propgate/consent-audit";
import { PURPOSES } from "@propgate/domain";
import { z } from "zod";
import { residentProcedure, router } from "../trpc.ts";
import {
  type ConsentReceipt,
  consentReceipt,
  RECEIPT_VERSION,
  type ReceiptSigner,
} from "./receipts.ts";

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
/** A signed consent receipt (ISO/IEC 27560 fields) and its payload decoded (`receipts.ts`). */
const Receipt = z.object({
  jws: z.string().nullable(),
  payload: z.object({
    version: z.literal(RECEIPT_VERSION),
    receiptId: z.string(),
    iat: z.number().int(),
    time: z.iso.datetime(),
    controller: z.object({ name: z.literal("PropDevelopment"), service: z.literal("Propgate") }),
    subject: z.string(),
    purpose: Purpose,
    noticeVersion: z.number().int().positive().nullable(),
    noticeSha256: z.string().nullable(),
    method: z.string(),
    channel: z.string(),
    state: z.enum(["granted", "revoked"]),
  }),
});
/** The consents after a grant or revoke, and the receipt of the decision now in force. */
const ConsentDecision = z.object({ consents: ConsentList, receipt: Receipt.nullable() });

const RECEIPTS_PAGE = 50;

/**
 * The receipt of the latest grant or revoke of `purpose`: the one that set the state now held
 * (a grant of what was granted writes no event, so its receipt is the earlier grant's).
 */
async function latestReceipt(
  db: Database,
  signer: ReceiptSigner | null,
  userId: string,
  purpose: z.output<typeof Purpose>,
): Promise<ConsentReceipt | null> {
  const [event] = await pageConsentReceiptEvents(db, { userId, purpose, limit: 1 });
  return event ? consentReceipt(event, signer) : null;
}

export const consentRouter = router({
  list: residentProcedure
    .output(ConsentList)
    .query(({ ctx }) => listConsents(ctx.deps.database.db, ctx.principal.userId)),
  grant: residentProcedure
    .input(
      z.strictObject({ purpose: Purpose, noticeVersion: z.number().int().min(1).max(1_000_000) }),
    )
    .output(ConsentDecision)
    .mutation(async ({ ctx, input }) => {
      const { db } = ctx.deps.database;
      const userId = ctx.principal.userId;
      await grantConsent(
        db,
        {
          userId,
          purpose: input.purpose,
          noticeVersion: input.noticeVersion,
          channel: "app",
          method: "in_app_checkbox",
        },
        ctx.audit,
      );
      // This instance's memory forgets a refusal now, not when its own NOTIFY comes back: the
      // resident's next call here (a journaled open) sees the grant (other instances: the bus).
      ctx.deps.consents.changed({ userId, purpose: input.purpose, state: "granted" });
      return {
        consents: await listConsents(db, userId),
        receipt: await latestReceipt(db, ctx.deps.receiptSigner, userId, input.purpose),
      };
    }),
  revoke: residentProcedure
    .input(z.strictObject({ purpose: Purpose }))
    .output(ConsentDecision)
    .mutation(async ({ ctx, input }) => {
      const { db } = ctx.deps.database;
      const userId = ctx.principal.userId;
      await revokeConsent(
        db,
        {
          userId,
          purpose: input.purpose,
          channel: "app",
          method: "in_app_toggle",
          actor: userId,
        },
        ctx.audit,
      );
      return {
        consents: await listConsents(db, userId),
        receipt: await latestReceipt(db, ctx.deps.receiptSigner, userId, input.purpose),
      };
    }),
  receipts: residentProcedure
    .input(
      z
        .strictObject({
          purpose: Purpose.optional(),
          /** `nextCursor` of the previous page. */
          cursor: z.string().min(1).max(64).optional(),
        })
        .default({}),
    )
    .output(z.object({ receipts: z.array(Receipt), nextCursor: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const events = await pageConsentReceiptEvents(ctx.deps.database.db, {
        userId: ctx.principal.userId,
        purpose: input.purpose,
        cursor: input.cursor,
        limit: RECEIPTS_PAGE,
      });
      const last = events.at(-1);
      return {
        receipts: events.map((event) => consentReceipt(event, ctx.deps.receiptSigner)),
        nextCursor: events.length === RECEIPTS_PAGE && last ? last.id : null,
      };
    }),
});
