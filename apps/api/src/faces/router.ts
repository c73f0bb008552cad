import { z } from "zod";
import { callPartnerAsResident } from "../devices/partner-call.ts";
import { type ResidentContext, residentProcedure, router } from "../trpc/init.ts";
import { checkedJpegBase64 } from "./jpeg.ts";

/**
 * Face recognition: the photo goes to the intercom partner in memory only; Propgate keeps no
 * image and no biometric template, only the audit of the calls.
 */
const FaceId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "faceId must be a face id");

/** Consent check, then one audited call to the intercom partner as this resident. */
function callIntercom<T>(
  ctx: ResidentContext,
  operation: string,
  target: string,
  run: Parameters<typeof callPartnerAsResident<T>>[2],
): Promise<T> {
  const scope = {
    deps: ctx.deps,
    principal: ctx.principal,
    audit: ctx.audit,
    operation,
    purpose: "faces" as const,
  };
  return callPartnerAsResident(scope, { partner: "intercom", target }, run);
}

export const facesRouter = router({
  list: residentProcedure.query(async ({ ctx }) => {
    const answer = await callIntercom(ctx, "faces.list", "faces", (io) =>
      ctx.deps.partners.intercom.faces.list(io),
    );
    return answer.faces;
  }),
  enroll: residentProcedure
    .input(z.strictObject({ image: z.string().min(1) }))
    .mutation(({ ctx, input }) => {
      const imageBase64 = checkedJpegBase64(input.image, ctx.deps.faceMaxImageBytes);
      return callIntercom(ctx, "faces.enroll", "faces", (io) =>
        ctx.deps.partners.intercom.faces.enroll({ imageBase64, ...io }),
      );
    }),
  remove: residentProcedure
    .input(z.strictObject({ faceId: FaceId }))
    .mutation(({ ctx, input }) =>
      callIntercom(ctx, "faces.remove", input.faceId, (io) =>
        ctx.deps.partners.intercom.faces.remove({ faceId: input.faceId, ...io }),
      ),
    ),
});
