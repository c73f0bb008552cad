import { InvalidInputError } from "@propgate/consent-audit";
import { SiteId } from "@propgate/domain";
import { PartnerRecordId, PlateRecord } from "@propgate/partner-client/contract";
import { z } from "zod";
import { callPartner } from "../partner-call/call-partner.ts";
import { partnerProcedure, router } from "../trpc.ts";
import { normalizePlate } from "./normalize.ts";

/**
 * Guest and own car plates, kept only at the barrier partner: validated and normalized here,
 * passed through in memory, never written to the database, logs, metrics or error messages.
 */
const PlateInput = z.string().min(1).max(32);

export const platesRouter = router({
  list: partnerProcedure("plates.list", { whileBlocked: true })
    .input(z.strictObject({ siteId: SiteId }))
    .output(z.array(PlateRecord))
    .query(async ({ ctx, input }) => {
      const answer = await callPartner(ctx.call, { site: input.siteId }, (io) =>
        ctx.deps.partners.barrier.plates.list({ siteId: input.siteId, ...io }),
      );
      return answer.plates;
    }),
  add: partnerProcedure("plates.add")
    .input(
      z.strictObject({
        siteId: SiteId,
        plate: PlateInput,
        validUntil: z.iso.datetime({ offset: true }).optional(),
      }),
    )
    .output(PlateRecord)
    .mutation(({ ctx, input }) => {
      const plate = normalizePlate(input.plate);
      if (!plate) throw new InvalidInputError("plate is not a valid Russian registration plate");
      if (input.validUntil && Date.parse(input.validUntil) <= Date.now()) {
        throw new InvalidInputError("validUntil must be in the future");
      }
      return callPartner(ctx.call, { site: input.siteId }, (io) =>
        ctx.deps.partners.barrier.plates.add({
          siteId: input.siteId,
          plate,
          validUntil: input.validUntil,
          ...io,
        }),
      );
    }),
  remove: partnerProcedure("plates.remove", { whileBlocked: true })
    .input(z.strictObject({ siteId: SiteId, plateId: PartnerRecordId }))
    .output(z.object({ removed: z.literal(true) }))
    .mutation(({ ctx, input }) =>
      callPartner(ctx.call, { site: input.siteId }, (io) =>
        ctx.deps.partners.barrier.plates.remove({
          siteId: input.siteId,
          plateId: input.plateId,
          ...io,
        }),
      ),
    ),
});
