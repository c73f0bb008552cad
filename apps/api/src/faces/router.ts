import { newId } from "@propgate/observability";
import { subjectFor } from "@propgate/partner-client";
import { z } from "zod";
import { auditedAttempts, requireConsent } from "../devices/partner-call.ts";
import { type ResidentContext, residentProcedure, router } from "../trpc/init.ts";
import { checkedJpegBase64 } from "./jpeg.ts";

/**
 * Face recognition: the photo goes to the intercom partner in memory only; Propgate keeps no
 * image and no biometric template, only the audit of the calls.
 */
const FaceId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "faceId must be a face id");

async function prepare(ctx: ResidentContext, operation: string, target: string) {
  const scope = {
    deps: ctx.deps,
    principal: ctx.principal,
    audit: ctx.audit,
    operation,
    purpose: "faces" as const,
  };
  await requireConsent(scope, target);
  const runtime = ctx.deps.partners.intercom;
  return {
    runtime,
    subject: subjectFor(ctx.principal.userId, runtime.subjectKey),
    hooks: auditedAttempts(scope, { partner: "intercom", target, callId: newId("call") }),
  };
}

export const facesRouter = router({
  list: residentProcedure.query(async ({ ctx }) => {
    const { runtime, subject, hooks } = await prepare(ctx, "faces.list", "faces");
    return (await runtime.faces.list({ subject, hooks })).faces;
  }),
  enroll: residentProcedure
    .input(z.strictObject({ image: z.string().min(1) }))
    .mutation(async ({ ctx, input }) => {
      const imageBase64 = checkedJpegBase64(input.image, ctx.deps.faceMaxImageBytes);
      const { runtime, subject, hooks } = await prepare(ctx, "faces.enroll", "faces");
      return runtime.faces.enroll({ subject, imageBase64, hooks });
    }),
  remove: residentProcedure
    .input(z.strictObject({ faceId: FaceId }))
    .mutation(async ({ ctx, input }) => {
      const { runtime, subject, hooks } = await prepare(ctx, "faces.remove", input.faceId);
      return runtime.faces.remove({ faceId: input.faceId, subject, hooks });
    }),
});
