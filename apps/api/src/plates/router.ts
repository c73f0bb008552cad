import { InvalidInputError } from "@propgate/consent-audit";
import { subjectFor } from "@propgate/partner-client";
import { z } from "zod";
import { authorizeSite, partnerCall, requireConsent } from "../devices/partner-call.ts";
import { type ResidentContext, residentProcedure, router } from "../trpc/init.ts";
import { normalizePlate } from "./normalize.ts";

/**
 * Guest and own car plates, kept only at the barrier partner: validated and normalized here,
 * passed through in memory, never written to the database, logs, metrics or error messages.
 */
const SiteId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "siteId must be a site id");
const PlateId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "plateId must be a plate id");
const PlateInput = z.string().min(1).max(32);

type PlatesOps = ResidentContext["deps"]["partners"]["barrier"]["plates"];

/** Site and consent checks, then one audited call to the barrier partner as this resident. */
async function callBarrier<T>(
  ctx: ResidentContext,
  operation: string,
  siteId: string,
  run: (
    plates: PlatesOps,
    io: { subject: string; hooks: Parameters<PlatesOps["list"]>[0]["hooks"]; signal?: AbortSignal },
  ) => Promise<T>,
): Promise<T> {
  const scope = {
    deps: ctx.deps,
    principal: ctx.principal,
    audit: ctx.audit,
    operation,
    purpose: "plates" as const,
  };
  await authorizeSite(scope, siteId);
  await requireConsent(scope, siteId);
  const runtime = ctx.deps.partners.barrier;
  const subject = subjectFor(ctx.principal.userId, runtime.subjectKey);
  return partnerCall(scope, { partner: "barrier", target: siteId }, (io) =>
    run(runtime.plates, { subject, ...io }),
  );
}

export const platesRouter = router({
  list: residentProcedure
    .input(z.strictObject({ siteId: SiteId }))
    .query(async ({ ctx, input }) => {
      const answer = await callBarrier(ctx, "plates.list", input.siteId, (plates, io) =>
        plates.list({ siteId: input.siteId, ...io }),
      );
      return answer.plates;
    }),
  add: residentProcedure
    .input(
      z.strictObject({
        siteId: SiteId,
        plate: PlateInput,
        validUntil: z.iso.datetime({ offset: true }).optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const plate = normalizePlate(input.plate);
      if (!plate) throw new InvalidInputError("plate is not a valid Russian registration plate");
      if (input.validUntil && Date.parse(input.validUntil) <= Date.now()) {
        throw new InvalidInputError("validUntil must be in the future");
      }
      return callBarrier(ctx, "plates.add", input.siteId, (plates, io) =>
        plates.add({ siteId: input.siteId, plate, validUntil: input.validUntil, ...io }),
      );
    }),
  remove: residentProcedure
    .input(z.strictObject({ siteId: SiteId, plateId: PlateId }))
    .mutation(({ ctx, input }) =>
      callBarrier(ctx, "plates.remove", input.siteId, (plates, io) =>
        plates.remove({ siteId: input.siteId, plateId: input.plateId, ...io }),
      ),
    ),
});
