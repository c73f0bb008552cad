import { subjectFor } from "@propgate/partner-client";
import { z } from "zod";
import { partnerCall, requireConsent } from "../devices/partner-call.ts";
import { type ResidentContext, residentProcedure, router } from "../trpc/init.ts";
import { checkedJpegBase64 } from "./jpeg.ts";

/**
 * Face recognition: the photo goes to the intercom partner in memory only; Propgate keeps no
 * image and no biometric template, only the audit of the calls.
 */
const FaceId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "faceId must be a face id");

type FacesOps = ResidentContext["deps"]["partners"]["intercom"]["faces"];

/** Consent check, then one audited call to the intercom partner as this resident. */
async function callIntercom<T>(
  ctx: ResidentContext,
  operation: string,
  target: string,
  run: (
    faces: FacesOps,
    io: { subject: string; hooks: Parameters<FacesOps["list"]>[0]["hooks"]; signal?: AbortSignal },
  ) => Promise<T>,
): Promise<T> {
  const scope = {
    deps: ctx.deps,
    principal: ctx.principal,
    audit: ctx.audit,
    operation,
    purpose: "faces" as const,
  };
  await requireConsent(scope, target);
  const runtime = ctx.deps.partners.intercom;
  const subject = subjectFor(ctx.principal.userId, runtime.subjectKey);
  return partnerCall(scope, { partner: "intercom", target }, (io) =>
    run(runtime.faces, { subject, ...io }),
  );
}

export const facesRouter = router({
  list: residentProcedure.query(async ({ ctx }) => {
    const answer = await callIntercom(ctx, "faces.list", "faces", (faces, io) => faces.list(io));
    return answer.faces;
  }),
  enroll: residentProcedure
    .input(z.strictObject({ image: z.string().min(1) }))
    .mutation(({ ctx, input }) => {
      const imageBase64 = checkedJpegBase64(input.image, ctx.deps.faceMaxImageBytes);
      return callIntercom(ctx, "faces.enroll", "faces", (faces, io) =>
        faces.enroll({ imageBase64, ...io }),
      );
    }),
  remove: residentProcedure
    .input(z.strictObject({ faceId: FaceId }))
    .mutation(({ ctx, input }) =>
      callIntercom(ctx, "faces.remove", input.faceId, (faces, io) =>
        faces.remove({ faceId: input.faceId, ...io }),
      ),
    ),
});
