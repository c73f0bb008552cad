import { FaceRecord, PartnerRecordId } from "@propgate/partner-client/contract";
import { z } from "zod";
import { callPartner } from "../partner-call/call-partner.ts";
import { partnerProcedure, router } from "../trpc.ts";
import { checkedJpegBase64 } from "./jpeg.ts";

/**
 * Face recognition: the photo goes to the intercom partner in memory only; Propgate keeps no
 * image and no biometric template, only the audit of the calls.
 */

export const facesRouter = router({
  list: partnerProcedure("faces.list", { whileBlocked: true })
    .output(z.array(FaceRecord))
    .query(async ({ ctx }) => {
      const answer = await callPartner(ctx.call, { own: "faces" }, (io) =>
        ctx.deps.partners.intercom.faces.list(io),
      );
      return answer.faces;
    }),
  enroll: partnerProcedure("faces.enroll")
    .input(z.strictObject({ image: z.string().min(1) }))
    .output(FaceRecord)
    .mutation(({ ctx, input }) => {
      const imageBase64 = checkedJpegBase64(input.image, ctx.deps.settings.faceMaxImageBytes);
      return callPartner(ctx.call, { own: "faces" }, (io) =>
        ctx.deps.partners.intercom.faces.enroll({ imageBase64, ...io }),
      );
    }),
  remove: partnerProcedure("faces.remove", { whileBlocked: true })
    .input(z.strictObject({ faceId: PartnerRecordId }))
    .output(z.object({ removed: z.literal(true) }))
    .mutation(({ ctx, input }) =>
      callPartner(ctx.call, { own: input.faceId }, (io) =>
        ctx.deps.partners.intercom.faces.remove({ faceId: input.faceId, ...io }),
      ),
    ),
});
