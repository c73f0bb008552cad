import { PartnerEvent, TypedId } from "@propgate/domain";
import { Hono } from "hono";
import { z } from "zod";
import { requireScope } from "./bearer.ts";
import { type PartnerSurface, partnerAudit, type SurfaceEnv } from "./context.ts";
import { limitBody, readJsonBody } from "./json-body.ts";
import { acceptPartnerEvent } from "./resident-events.ts";

/**
 * `POST /partner/v1/events`: something happened at one of the partner's devices. The shapes,
 * one strict object per type, are declared once in `@propgate/domain` (the partner simulator
 * and `propgate partner verify` send them too).
 */
export const PartnerEventRequest = PartnerEvent;

/** The 202 answer: the event's row in the audit trail. */
export const EventAccepted = z.object({ status: z.literal("accepted"), eventId: TypedId("evt") });

/**
 * Accepts an event (202) and hands it to `acceptPartnerEvent` (resident-events.ts): audited,
 * journaled for the residents it concerns; a retried `eventId` answers the first post's id.
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
      const accepted = await acceptPartnerEvent(surface.deps.database.db, {
        partner,
        event: body,
        audit: partnerAudit(surface, c),
        settings: surface.residentEvents,
      });
      // Ids and the type only: the strict body has no personal field to log.
      c.set("logDetail", {
        event: body.type,
        reportedAt: body.at,
        ...(body.eventId ? { partnerEventId: body.eventId } : {}),
        ...(accepted.replayed ? { replayed: "true" } : {}),
      });
      // A retry is the same event: counted once.
      if (!accepted.replayed) surface.deps.metrics.partnerEvents.inc({ partner, type: body.type });
      return c.json(
        {
          status: "accepted",
          eventId: accepted.auditEventId,
        } satisfies z.infer<typeof EventAccepted>,
        202,
      );
    },
  );
  return app;
}
