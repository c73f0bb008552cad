import {
  type Database,
  type Device,
  ERASURE_PARTNER,
  findSubject,
  getDeviceByPartnerId,
  listConsents,
  type Partner,
  type Purpose,
  recordAuditEvent,
} from "@propgate/consent-audit";
import { ACCESS_METHODS, type AccessMethod, PartnerDeviceId } from "@propgate/domain";
import { Subject } from "@propgate/partner-client";
import { Hono } from "hono";
import { z } from "zod";
import { requireScope } from "./bearer.ts";
import { type PartnerSurface, partnerAudit, type SurfaceEnv } from "./context.ts";
import { limitBody, readJsonBody } from "./json-body.ts";

/** `POST /partner/v1/access-checks`: may this subject pass this device by this method? */
export const AccessCheckRequest = z.strictObject({
  subject: Subject,
  deviceId: PartnerDeviceId,
  method: z.enum(ACCESS_METHODS),
});
export type AccessCheckRequest = z.infer<typeof AccessCheckRequest>;

/** Why an access check denies; `openapi.ts` says what each means to a partner. */
export const DENY_REASONS = [
  "unknown_device",
  "unknown_subject",
  "stale_subject",
  "not_a_passage",
  "method_not_supported",
  "site_not_allowed",
  "consent_required",
] as const;
export type DenyReason = (typeof DENY_REASONS)[number];

/** The answer to an access check: `reason` only with `deny`. */
export const AccessCheckResponse = z.object({
  decision: z.enum(["allow", "deny"]),
  reason: z.enum(DENY_REASONS).optional(),
});

export interface AccessDecision {
  decision: "allow" | "deny";
  reason?: DenyReason;
  device: Device | null;
  userId: string | null;
  /** The consents the answer depended on (all must be granted). */
  purposes: Purpose[];
}

/** Passing a door is intercom processing, a gate barrier processing. */
const PASSAGE_PURPOSE: Partial<Record<Device["kind"], Purpose>> = {
  door: "intercom",
  gate: "barrier",
};
/** Recognising a face or a plate is processing of its own, with its own consent. */
const METHOD_CATEGORY = { face: "faces", plate: "plates" } as const;

/**
 * Answers an access check from what Propgate knows: the partner's device mapped to ours, the
 * subject mapped to the resident it was sent for (with the resident's sites as their latest call
 * confirmed them, if no longer ago than `sitesMaxAgeSeconds`), and the resident's consents now.
 * Whatever is unknown denies.
 */
export async function decideAccess(
  db: Database,
  input: {
    partner: Partner;
    subject: string;
    partnerDeviceId: string;
    method: AccessMethod;
    sitesMaxAgeSeconds: number;
  },
): Promise<AccessDecision> {
  const device = await getDeviceByPartnerId(db, input.partner, input.partnerDeviceId);
  const deny = (reason: DenyReason, userId: string | null = null, purposes: Purpose[] = []) => ({
    decision: "deny" as const,
    reason,
    device,
    userId,
    purposes,
  });
  if (!device) return deny("unknown_device");
  const passage = PASSAGE_PURPOSE[device.kind];
  if (!passage) return deny("not_a_passage");
  const purposes: Purpose[] = [passage];
  if (input.method !== "key") {
    const category = METHOD_CATEGORY[input.method];
    // Faces are held by the intercom partner, plates by the barrier partner.
    if (ERASURE_PARTNER[category] !== device.partner) return deny("method_not_supported");
    purposes.push(category);
  }
  const resident = await findSubject(db, input.partner, input.subject);
  if (!resident) return deny("unknown_subject", null, purposes);
  // Sites only a token long gone vouched for: a former resident must not keep them for ever.
  if (Date.now() - Date.parse(resident.updatedAt) > input.sitesMaxAgeSeconds * 1000) {
    return deny("stale_subject", resident.userId, purposes);
  }
  if (!resident.sites.includes(device.siteId)) {
    return deny("site_not_allowed", resident.userId, purposes);
  }
  const consents = await listConsents(db, resident.userId);
  const granted = purposes.every(
    (purpose) => consents.find((consent) => consent.purpose === purpose)?.state === "granted",
  );
  if (!granted) return deny("consent_required", resident.userId, purposes);
  return { decision: "allow", device, userId: resident.userId, purposes };
}

export function accessCheckRoutes(surface: PartnerSurface) {
  const app = new Hono<SurfaceEnv>();
  app.post(
    "/access-checks",
    limitBody(surface.maxBodyBytes),
    requireScope(surface, "access.check"),
    surface.limitClient,
    async (c) => {
      const body = await readJsonBody(c, AccessCheckRequest);
      const client = c.get("client");
      const partner = client?.partner;
      if (!partner) throw new Error("access check without an authenticated client");
      surface.deps.watch?.observe("access_checks", client.clientId);
      surface.deps.watch?.observe("access_check_subjects", client.clientId, body.subject);
      const answer = await decideAccess(surface.deps.database.db, {
        partner,
        subject: body.subject,
        partnerDeviceId: body.deviceId,
        method: body.method,
        sitesMaxAgeSeconds: surface.sitesMaxAgeSeconds,
      });
      // The row records whom (opaque user id), where and the answer; never the subject.
      await recordAuditEvent(surface.deps.database.db, {
        ...partnerAudit(surface, c),
        kind: "partner.access_check",
        operation: `access_check.${body.method}` as const,
        partner,
        target: answer.device?.id ?? `${partner}/${body.deviceId}`,
        userId: answer.userId,
        purpose: answer.purposes[0] ?? null,
        result: answer.decision,
        errorCode: answer.reason ? answer.reason.toUpperCase() : null,
      });
      surface.deps.metrics.accessChecks.inc({ partner, decision: answer.decision });
      return c.json(
        (answer.reason
          ? { decision: answer.decision, reason: answer.reason }
          : { decision: answer.decision }) satisfies z.infer<typeof AccessCheckResponse>,
      );
    },
  );
  return app;
}
