import { InvalidInputError } from "@propgate/consent-audit";
import { newId } from "@propgate/observability";
import { subjectFor } from "@propgate/partner-client";
import { z } from "zod";
import { auditedAttempts, authorizeSite, requireConsent } from "../devices/partner-call.ts";
import { type ResidentContext, residentProcedure, router } from "../trpc/init.ts";
import { normalizePlate } from "./normalize.ts";

/**
 * Guest and own car plates, kept only at the barrier partner: validated and normalized here,
 * passed through in memory, never written to the database, logs, metrics or error messages.
 */
const SiteId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "siteId must be a site id");
const PlateId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "plateId must be a plate id");
const PlateInput = z.string().min(1).max(32);

async function prepare(ctx: ResidentContext, operation: string, siteId: string) {
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
  return {
    runtime,
    subject: subjectFor(ctx.principal.userId, runtime.subjectKey),
    hooks: auditedAttempts(scope, { partner: "barrier", target: siteId, callId: newId("call") }),
  };
}

export const platesRouter = router({
  list: residentProcedure
    .input(z.strictObject({ siteId: SiteId }))
    .query(async ({ ctx, input }) => {
      const { runtime, subject, hooks } = await prepare(ctx, "plates.list", input.siteId);
      return (await runtime.plates.list({ siteId: input.siteId, subject, hooks })).plates;
    }),
  add: residentProcedure
    .input(
      z.strictObject({
        siteId: SiteId,
        plate: PlateInput,
        validUntil: z.iso.datetime({ offset: true }).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const plate = normalizePlate(input.plate);
      if (!plate) throw new InvalidInputError("plate is not a valid Russian registration plate");
      if (input.validUntil && Date.parse(input.validUntil) <= Date.now()) {
        throw new InvalidInputError("validUntil must be in the future");
      }
      const { runtime, subject, hooks } = await prepare(ctx, "plates.add", input.siteId);
      return runtime.plates.add({
        siteId: input.siteId,
        subject,
        plate,
        validUntil: input.validUntil,
        hooks,
      });
    }),
  remove: residentProcedure
    .input(z.strictObject({ siteId: SiteId, plateId: PlateId }))
    .mutation(async ({ ctx, input }) => {
      const { runtime, subject, hooks } = await prepare(ctx, "plates.remove", input.siteId);
      return runtime.plates.remove({
        siteId: input.siteId,
        plateId: input.plateId,
        subject,
        hooks,
      });
    }),
});
