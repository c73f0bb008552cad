import {
  type DeviceKind,
  ERASURE_CATEGORIES,
  PARTNER_OPERATIONS,
  PARTNER_SCOPES,
  PARTNERS,
  type Partner,
  PartnerDeviceId,
  type PartnerOperation,
  type PartnerPurpose,
  SiteId,
  Subject,
} from "@propgate/domain";
import { z } from "zod";
import { expandPath, type PathIds } from "./path-template.ts";

/**
 * The partner contract (docs/architecture.md, "Partner contract: read tolerantly, write
 * strictly"): what Propgate sends to a partner and what it accepts back. Requests are strict
 * objects, so nothing beyond the contract leaves us.
 */

export {
  expandPath,
  matchPath,
  type PathParamName,
  pathParamNames,
} from "./path-template.ts";
export { ERASURE_CATEGORIES, PARTNER_OPERATIONS, PARTNER_SCOPES };
export const PartnerScope = z.enum(PARTNER_SCOPES);
export type PartnerScope = z.infer<typeof PartnerScope>;

export const PartnerName = z.enum(PARTNERS);
export type PartnerName = Partner;

/** Partner-side device ids travel in URL paths, so they are kept to a safe alphabet. */
/** HMAC-SHA256 of the user id under the partner's key, base64url without padding. */
export { PartnerDeviceId, Subject };

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

/** Ids a partner gives its records and sessions; they travel in URL paths. */
const PARTNER_RECORD_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Partner-side camera ids and video session ids travel in URL paths too. */
export const PartnerSessionId = z
  .string()
  .regex(PARTNER_RECORD_ID, "session id must be 1-128 of [A-Za-z0-9._-]");

/**
 * WHEP video session (draft-ietf-wish-whep; POST /v1/cameras/{id}/webrtc, body = SDP offer):
 * the partner answers 201 with the SDP answer as body, the session's URL in `Location` (any
 * path on its origin; `/v1/sessions/{sessionId}` in our own dialect), ICE servers in
 * `Link: <turn:…>; rel="ice-server"; username="…"; credential="…"` headers, and optionally the
 * time it will end the session in `X-Session-Expires-At` (RFC 3339; without it Propgate ends the
 * session after `VIDEO_SESSION_MAX_SECONDS`). `DELETE` on the Location ends it.
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

/**
 * A Russian registration plate as partners receive it: normalized to Latin look-alike letters
 * (А→A, В→B, Е→E, К→K, М→M, Н→H, О→O, Р→P, С→C, Т→T, У→Y, Х→X), no spaces. Private cars
 * `A123BC77`/`A123BC777`, taxis `AB12377`/`AB123777`.
 */
export const Plate = z
  .string()
  .regex(
    /^(?:[ABEKMHOPCTYX]\d{3}[ABEKMHOPCTYX]{2}|[ABEKMHOPCTYX]{2}\d{3})\d{2,3}$/,
    "not a normalized plate",
  );
export { SiteId };
/** Ids of what a partner keeps for a subject (a plate, a face). */
export const PartnerRecordId = z
  .string()
  .regex(PARTNER_RECORD_ID, "must be a partner's record id (1-128 of [A-Za-z0-9._-])");

/** `POST /v1/sites/{siteId}/plates` (scope plates.manage). */
export const AddPlateRequest = z.strictObject({
  subject: Subject,
  plate: Plate,
  validUntil: z.iso.datetime({ offset: true }).optional(),
});
export type AddPlateRequest = z.infer<typeof AddPlateRequest>;
export const PlateRecord = z.object({
  id: PartnerRecordId,
  plate: Plate,
  validUntil: z.iso.datetime({ offset: true }).nullable(),
  createdAt: z.iso.datetime({ offset: true }),
});
export type PlateRecord = z.infer<typeof PlateRecord>;
/** `GET /v1/sites/{siteId}/plates?subject=…`: the subject's plates at that site. */
export const PlateList = z.object({ plates: z.array(PlateRecord).max(1000) });

/** `POST /v1/faces` (scope faces.manage): a JPEG, base64, at most 5 MiB decoded. */
export const EnrollFaceRequest = z.strictObject({
  subject: Subject,
  image: z.base64().max(7 * 1024 * 1024),
});
export type EnrollFaceRequest = z.infer<typeof EnrollFaceRequest>;
export const FaceRecord = z.object({
  faceId: PartnerRecordId,
  createdAt: z.iso.datetime({ offset: true }),
});
export type FaceRecord = z.infer<typeof FaceRecord>;
/** `GET /v1/faces?subject=…`. */
export const FaceList = z.object({ faces: z.array(FaceRecord).max(100) });

/**
 * `DELETE /v1/subjects/{subject}?categories=faces,plates` (scope subjects.erase): erase what the
 * partner holds for the subject in those categories → 200 with what was erased (this body), 204
 * (erased, no counts) or 202 (accepted, erased later). Idempotent. `subject`, when present, is
 * not used.
 */
export const ErasureCategory = z.enum(ERASURE_CATEGORIES);
export type ErasureCategory = z.infer<typeof ErasureCategory>;
export const ErasureResponse = z.object({
  subject: Subject.optional(),
  erased: z.object({
    faces: z.number().int().min(0).optional(),
    plates: z.number().int().min(0).optional(),
  }),
});
export type ErasureResponse = z.infer<typeof ErasureResponse>;

/**
 * `GET /v1/subjects/{subject}/erasure` (scope subjects.erase): where the erasure the partner
 * accepted (202) stands → 200 with this body; `Retry-After` (seconds or a date) says when to ask
 * again while it is `pending`. `completedAt`: when it was done, if the partner says.
 */
export const ErasureStatusResponse = z.object({
  status: z.enum(["pending", "done"]),
  completedAt: z.iso.datetime({ offset: true }).optional(),
});
export type ErasureStatusResponse = z.infer<typeof ErasureStatusResponse>;

/**
 * Guest keys (scope keys.manage): a time-boxed key the intercom partner issues for a resident's
 * visitor at chosen doors of a site. The partner checks the code at its panels; Propgate passes
 * the code and QR to the resident once and keeps neither.
 */
const KeyTime = z.iso.datetime({ offset: true });
/** At most this many doors per key (a site's entrances; a panel per stairwell). */
export const MAX_KEY_DEVICES = 20;
/** `POST /v1/sites/{siteId}/keys` with an `Idempotency-Key`. */
export const CreateKeyRequest = z.strictObject({
  subject: Subject,
  devices: z.array(PartnerDeviceId).min(1).max(MAX_KEY_DEVICES),
  validFrom: KeyTime,
  validUntil: KeyTime,
  maxUses: z.number().int().min(1).max(1000).optional(),
});
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;
export const PartnerKeyId = z
  .string()
  .regex(PARTNER_RECORD_ID, "key id must be 1-128 of [A-Za-z0-9._-]");
/** The partner's answer to a create: the code (and QR) pass through to the resident, once. */
export const CreatedKey = z.object({
  keyId: PartnerKeyId,
  code: z.string().regex(/^[A-Za-z0-9]{4,32}$/, "code must be 4-32 letters or digits"),
  qr: z.string().min(1).max(2048).optional(),
  validFrom: KeyTime,
  validUntil: KeyTime,
});
export type CreatedKey = z.infer<typeof CreatedKey>;
/** A key as listed: whatever else the partner sends (a code) is dropped when read. */
export const KeyRecord = z.object({
  keyId: PartnerKeyId,
  devices: z.array(PartnerDeviceId).max(MAX_KEY_DEVICES),
  validFrom: KeyTime,
  validUntil: KeyTime,
  maxUses: z.number().int().min(1).nullish(),
});
export type KeyRecord = z.infer<typeof KeyRecord>;
/** `GET /v1/sites/{siteId}/keys?subject=…`: the subject's keys at that site. */
export const KeyList = z.object({ keys: z.array(KeyRecord).max(1000) });

/**
 * The operations of the contract: what gates each, who serves it, the one scope it needs, and its
 * method and path template — the one place a partner path is written (requests, the OpenAPI
 * document and the partner simulator's routes all read it).
 */
export const OPERATIONS = {
  "intercom.open": {
    purpose: "intercom",
    deviceKind: "door",
    partner: "intercom",
    method: "POST",
    scope: "intercom.open",
    path: "/v1/intercoms/{deviceId}/open",
  },
  "barrier.open": {
    purpose: "barrier",
    deviceKind: "gate",
    partner: "barrier",
    method: "POST",
    scope: "barrier.open",
    path: "/v1/barriers/{deviceId}/open",
  },
  "video.create_session": {
    purpose: "video",
    deviceKind: "camera",
    partner: null,
    method: "POST",
    scope: "video.view",
    path: "/v1/cameras/{cameraId}/webrtc",
  },
  "video.end_session": {
    purpose: "video",
    deviceKind: null,
    partner: null,
    method: "DELETE",
    scope: "video.view",
    path: "/v1/sessions/{sessionId}",
  },
  "plates.list": {
    purpose: "plates",
    deviceKind: null,
    partner: "barrier",
    method: "GET",
    scope: "plates.manage",
    path: "/v1/sites/{siteId}/plates",
  },
  "plates.add": {
    purpose: "plates",
    deviceKind: null,
    partner: "barrier",
    method: "POST",
    scope: "plates.manage",
    path: "/v1/sites/{siteId}/plates",
  },
  "plates.remove": {
    purpose: "plates",
    deviceKind: null,
    partner: "barrier",
    method: "DELETE",
    scope: "plates.manage",
    path: "/v1/sites/{siteId}/plates/{plateId}",
  },
  "faces.list": {
    purpose: "faces",
    deviceKind: null,
    partner: "intercom",
    method: "GET",
    scope: "faces.manage",
    path: "/v1/faces",
  },
  "faces.enroll": {
    purpose: "faces",
    deviceKind: null,
    partner: "intercom",
    method: "POST",
    scope: "faces.manage",
    path: "/v1/faces",
  },
  "faces.remove": {
    purpose: "faces",
    deviceKind: null,
    partner: "intercom",
    method: "DELETE",
    scope: "faces.manage",
    path: "/v1/faces/{faceId}",
  },
  // Doors at entrance panels only: a guest's car goes through `plates.add` at the barrier.
  "keys.create": {
    purpose: "guests",
    deviceKind: null,
    partner: "intercom",
    method: "POST",
    scope: "keys.manage",
    path: "/v1/sites/{siteId}/keys",
  },
  "keys.list": {
    purpose: "guests",
    deviceKind: null,
    partner: "intercom",
    method: "GET",
    scope: "keys.manage",
    path: "/v1/sites/{siteId}/keys",
  },
  "keys.delete": {
    purpose: "guests",
    deviceKind: null,
    partner: "intercom",
    method: "DELETE",
    scope: "keys.manage",
    path: "/v1/keys/{keyId}",
  },
  "subjects.erase": {
    purpose: null,
    deviceKind: null,
    partner: null,
    method: "DELETE",
    scope: "subjects.erase",
    path: "/v1/subjects/{subject}",
  },
  "subjects.erasure_status": {
    purpose: null,
    deviceKind: null,
    partner: null,
    method: "GET",
    scope: "subjects.erase",
    path: "/v1/subjects/{subject}/erasure",
  },
  health: {
    purpose: null,
    deviceKind: null,
    partner: null,
    method: "GET",
    scope: "health.read",
    path: "/v1/health",
  },
} as const satisfies Record<
  PartnerOperation,
  {
    /** The consent that gates the call; null: processing-free (health) or by category (erase). */
    purpose: PartnerPurpose | null;
    /** The kind of device the call acts on, if it acts on one of ours. */
    deviceKind: DeviceKind | null;
    /** The partner that serves it; null: whichever holds the device or the data. */
    partner: Partner | null;
    method: "GET" | "POST" | "DELETE";
    scope: PartnerScope;
    /** OpenAPI's path template: `{name}` per id, each one path segment. */
    path: `/${string}`;
  }
>;
export type OperationName = PartnerOperation;

/** The path of one call of `operation`, its ids in the template's order. */
export function operationPath<N extends OperationName>(
  operation: N,
  ...ids: PathIds<(typeof OPERATIONS)[N]["path"]>
): string {
  return expandPath(OPERATIONS[operation].path, ids);
}
