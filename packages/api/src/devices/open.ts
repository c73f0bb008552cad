import { createHash } from "node:crypto";
import { DeviceId, newId } from "@propgate/domain";
import { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { journalOwnOpen } from "../events/journal-own-open.ts";
import { callPartner, type PartnerCallScope } from "../partner-call/call-partner.ts";
import type { Partners } from "../partners.ts";
import { partnerProcedure, router } from "../trpc.ts";

const ClientIdempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{8,128}$/, "idempotencyKey must be 8-128 of [A-Za-z0-9._:-]");
const OpenInput = z.strictObject({
  deviceId: DeviceId,
  idempotencyKey: ClientIdempotencyKey.optional(),
});
type OpenInput = z.infer<typeof OpenInput>;
const OpenResult = z.object({
  status: z.literal("opened"),
  /** The partner's id of the open. */
  eventId: z.string().min(1).max(128),
  at: z.iso.datetime(),
});

/**
 * The key the partner sees: derived from the resident's key, the resident and the device, so
 * two residents who happen to pick the same key never share a partner-side result.
 */
function partnerIdempotencyKey(userId: string, deviceId: string, key: string): string {
  return `pg_${createHash("sha256").update(`${userId}\0${deviceId}\0${key}`).digest("base64url")}`;
}

/** What an open needs besides the call: the partners, and the journal it is kept in. */
interface OpenServices {
  partners: Partners;
  journal: Omit<Parameters<typeof journalOwnOpen>[0], "requestId">;
  requestId: string;
}

/** Opens a door (intercom partner) or a gate (barrier partner) for a resident. */
async function openDevice(call: PartnerCallScope, services: OpenServices, input: OpenInput) {
  const { principal } = call;
  const { partners } = services;
  const callKey = input.idempotencyKey ?? newId("tap");
  let callId = "";
  const result = await callPartner(call, { device: input.deviceId }, (io) => {
    const device = io.device;
    if (!device) throw new Error("an open without its device");
    callId = io.callId;
    const request = {
      partnerDeviceId: device.partnerDeviceId,
      subject: io.subject,
      idempotencyKey: partnerIdempotencyKey(principal.userId, device.id, callKey),
      hooks: io.hooks,
      signal: io.signal,
    };
    return io.partner === "intercom"
      ? partners.intercom.ops.openDoor(request)
      : partners.barrier.ops.openGate(request);
  });
  const at = new Date(result.openedAt).toISOString();
  await journalOwnOpen(
    { ...services.journal, requestId: services.requestId },
    { userId: principal.userId, deviceId: input.deviceId, callId, at },
  );
  return { status: "opened" as const, eventId: result.eventId, at };
}

function openServices(ctx: { deps: AppDeps; requestId: string }): OpenServices {
  const { deps } = ctx;
  return {
    partners: deps.partners,
    journal: { journal: deps.journalWriter, consents: deps.consents, logger: deps.logger },
    requestId: ctx.requestId,
  };
}

export const intercomRouter = router({
  openDoor: partnerProcedure("intercom.open", { limit: "open" })
    .input(OpenInput)
    .output(OpenResult)
    .mutation(({ ctx, input }) => openDevice(ctx.call, openServices(ctx), input)),
});

export const barrierRouter = router({
  open: partnerProcedure("barrier.open", { limit: "open" })
    .input(OpenInput)
    .output(OpenResult)
    .mutation(({ ctx, input }) => openDevice(ctx.call, openServices(ctx), input)),
});
