import { InvalidInputError } from "@propgate/consent-audit";
import { z } from "zod";
import { callPartnerAsResident } from "../devices/partner-call.ts";
import { type ResidentContext, residentProcedure, router } from "../trpc/init.ts";
import { normalizePlate } from "./normalize.ts";

/**
 * Guest and own car plates, kept only at the barrier partner: validated and normalized here,
 * passed through in memory, never written to the database, logs, metrics or error messages.
 */
const SiteId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "siteId must be a site id");
const PlateId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "plateId must be a plate id");
const PlateInput = z.string().min(1).max(32);

/** Site and consent checks, then one audited call to the barrier partner as this resident. */
function callBarrier<T>(
  ctx: ResidentContext,
  operation: string,
  siteId: string,
  run: Parameters<typeof callPartnerAsResident<T>>[2],
): Promise<T> {
  const scope = {
    deps: ctx.deps,
    principal: ctx.principal,
    audit: ctx.audit,
    operation,
    purpose: "plates" as const,
  };
  return callPartnerAsResident(scope, { partner: "barrier", target: siteId, siteId }, run);
}

export const platesRouter = router({
  list: residentProcedure
    .input(z.strictObject({ siteId: SiteId }))
    .query(async ({ ctx, input }) => {
      const answer = await callBarrier(ctx, "plates.list", input.siteId, (io) =>
        ctx.deps.partners.barrier.plates.list({ siteId: input.siteId, ...io }),
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
      return callBarrier(ctx, "plates.add", input.siteId, (io) =>
        ctx.deps.partners.barrier.plates.add({
          siteId: input.siteId,
          plate,
          validUntil: input.validUntil,
          ...io,
        }),
      );
    }),
  remove: residentProcedure
    .input(z.strictObject({ siteId: SiteId, plateId: PlateId }))
    .mutation(({ ctx, input }) =>
      callBarrier(ctx, "plates.remove", input.siteId, (io) =>
        ctx.deps.partners.barrier.plates.remove({
          siteId: input.siteId,
          plateId: input.plateId,
          ...io,
        }),
      ),
    ),
});
