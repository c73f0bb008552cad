import { getDeviceByPartnerId, recordAuditEvent } from "@propgate/consent-audit";
import { PARTNER_EVENT_TYPES, PartnerDeviceId, TypedId } from "@propgate/domain";
import { Hono } from "hono";
import { z } from "zod";
import { requireScope } from "./bearer.ts";
import { type PartnerSurface, partnerAudit, type SurfaceEnv } from "./context.ts";
import { limitBody, readJsonBody } from "./json-body.ts";

/** `POST /partner/v1/events`: something happened at one of the partner's devices. */
export const PartnerEventRequest = z.strictObject({
  type: z.enum(PARTNER_EVENT_TYPES),
  deviceId: PartnerDeviceId,
  at: z.iso.datetime({ offset: true }),
});
export type PartnerEventRequest = z.infer<typeof PartnerEventRequest>;

/** The 202 answer: the event's row in the audit trail. */
export const EventAccepted = z.object({ status: z.literal("accepted"), eventId: TypedId("evt") });

/**
 * Accepts a device event (202) and records it in the audit chain as `partner.event`: the event
 * type, our device (or `<partner>/<their id>` when we do not know it) and `accepted` or
 * `unknown_device`.
 */
export function eventRoutes(surface: PartnerSurface) {
  const app = new Hono<SurfaceEnv>();
  app.post(
    "/events",
    limitBody(surface.maxBodyBytes),
    requireScope(surface, "events.write"),
    surface.limitClient,
    async (c) => {
      const body = await readJsonBody(c, PartnerEventRequest);
      const partner = c.get("client")?.partner;
      if (!partner) throw new Error("event without an authenticated client");
      const db = surface.deps.database.db;
      const device = await getDeviceByPartnerId(db, partner, body.deviceId);
      const event = await recordAuditEvent(db, {
        ...partnerAudit(surface, c),
        kind: "partner.event",
        operation: body.type,
        partner,
        target: device?.id ?? `${partner}/${body.deviceId}`,
        result: device ? "accepted" : "unknown_device",
      });
      c.set("logDetail", { event: body.type, reportedAt: body.at });
      surface.deps.metrics.partnerEvents.inc({ partner, type: body.type });
      return c.json(
        { status: "accepted", eventId: event.id } satisfies z.infer<typeof EventAccepted>,
        202,
      );
    },
  );
  return app;
}
