import { z } from "zod";

/**
 * The partner contract (DESIGN.md "Partner contract"): what Propgate sends to a partner and
 * what it accepts back. Requests are strict objects, so nothing beyond the contract leaves us.
 */

export const PARTNER_SCOPES = [
  "intercom.open",
  "barrier.open",
  "plates.manage",
  "faces.manage",
  "video.view",
  "subjects.erase",
  "health.read",
] as const;
export const PartnerScope = z.enum(PARTNER_SCOPES);
export type PartnerScope = z.infer<typeof PartnerScope>;

export const PARTNER_NAMES = ["intercom", "barrier"] as const;
export const PartnerName = z.enum(PARTNER_NAMES);
export type PartnerName = z.infer<typeof PartnerName>;

/** Partner-side device ids travel in URL paths, so they are kept to a safe alphabet. */
export const PartnerDeviceId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, "partner device id must be 1-64 of [A-Za-z0-9._-]");

/** HMAC-SHA256 of the user id under the partner's key, base64url without padding. */
export const Subject = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, "subject must be a 43-char base64url pseudonym");

/** IETF idempotency-key draft: an opaque string; we keep it printable and short. */
export const IdempotencyKey = z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/);

export const OpenRequest = z.strictObject({ subject: Subject });
export type OpenRequest = z.infer<typeof OpenRequest>;

export const OpenResponse = z.object({
  eventId: z.string().min(1).max(128),
  openedAt: z.iso.datetime({ offset: true }),
});
export type OpenResponse = z.infer<typeof OpenResponse>;

export const HealthResponse = z.object({ status: z.enum(["ok", "degraded"]) });
export type HealthResponse = z.infer<typeof HealthResponse>;

/** Partner error body: `{ error, message }`. */
export const PartnerErrorBody = z.object({
  error: z.string().max(200),
  message: z.string().max(2000).optional(),
});
export type PartnerErrorBody = z.infer<typeof PartnerErrorBody>;

/** RFC 6749 §5.2 error body of the token endpoint. */
export const OAuthErrorBody = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

/** Partner-side camera ids and video session ids travel in URL paths too. */
export const PartnerSessionId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, "session id must be 1-128 of [A-Za-z0-9._-]");

/**
 * WHEP-shaped video session (POST /v1/cameras/{id}/webrtc, body = SDP offer): the partner
 * answers 201 with the SDP answer as body, `Location: /v1/sessions/{sessionId}`, ICE servers in
 * `Link: <turn:…>; rel="ice-server"; username="…"; credential="…"` headers, and the time it will
 * end the session in `X-Session-Expires-At` (RFC 3339). `DELETE` on the Location ends it.
 */
export const VIDEO_SESSION_EXPIRES_HEADER = "x-session-expires-at";
export const SDP_CONTENT_TYPE = "application/sdp";
/** Largest SDP we accept in either direction; real offers are a few KiB. */
export const MAX_SDP_BYTES = 16 * 1024;

export const IceServer = z.strictObject({
  urls: z
    .array(z.string().regex(/^(stun|stuns|turn|turns):[^\s<>"]{1,250}$/))
    .min(1)
    .max(4),
  username: z.string().max(256).optional(),
  credential: z.string().max(256).optional(),
});
export type IceServer = z.infer<typeof IceServer>;

/** The operations of the contract, with the one scope each needs and whether a retry is safe. */
export const OPERATIONS = {
  "intercom.open": {
    partner: "intercom",
    method: "POST",
    scope: "intercom.open",
    path: (deviceId: string) => `/v1/intercoms/${encodeURIComponent(deviceId)}/open`,
  },
  "barrier.open": {
    partner: "barrier",
    method: "POST",
    scope: "barrier.open",
    path: (deviceId: string) => `/v1/barriers/${encodeURIComponent(deviceId)}/open`,
  },
  "video.create_session": {
    partner: "intercom",
    method: "POST",
    scope: "video.view",
    path: (cameraId: string) => `/v1/cameras/${encodeURIComponent(cameraId)}/webrtc`,
  },
  "video.end_session": {
    partner: "intercom",
    method: "DELETE",
    scope: "video.view",
    path: (sessionId: string) => `/v1/sessions/${encodeURIComponent(sessionId)}`,
  },
  health: { partner: null, method: "GET", scope: "health.read", path: () => "/v1/health" },
} as const satisfies Record<
  string,
  {
    partner: PartnerName | null;
    method: "GET" | "POST" | "DELETE";
    scope: PartnerScope;
    path: (id: string) => string;
  }
>;
export type OperationName = keyof typeof OPERATIONS;
