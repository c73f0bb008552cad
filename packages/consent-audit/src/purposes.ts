/** Consent-side vocabulary; the shared lists come from @propgate/domain (declared once). */
export {
  DEVICE_KINDS,
  type DeviceKind,
  ERASURE_CATEGORIES,
  ERASURE_PARTNER,
  type ErasureCategory,
  PARTNERS,
  type Partner,
  PURPOSES,
  type Purpose,
} from "@propgate/domain";

export const CONSENT_ACTIONS = ["grant", "revoke"] as const;
export type ConsentAction = (typeof CONSENT_ACTIONS)[number];

export const CONSENT_STATES = ["granted", "revoked"] as const;
export type ConsentStoredState = (typeof CONSENT_STATES)[number];

export const CONSENT_CHANNELS = ["app", "web", "admin"] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];

export const ERASURE_REASONS = ["consent_revoked", "admin_request"] as const;
export type ErasureReason = (typeof ERASURE_REASONS)[number];

/** `accepted`: the partner took the request (202) and erases later; not sent again. */
export const ERASURE_STATUSES = ["pending", "done", "accepted"] as const;
export type ErasureStatus = (typeof ERASURE_STATUSES)[number];

/**
 * Why a video session ended: the resident ended it, their `video` consent was revoked, the
 * camera left their sites, its lifetime ran out, it never began (the partner failed), or an
 * operator ended it (`admin.videoSessions.end`).
 */
export const VIDEO_END_REASONS = [
  "resident",
  "consent_revoked",
  "camera_removed",
  "expired",
  "failed",
  "admin",
] as const;
export type VideoEndReason = (typeof VIDEO_END_REASONS)[number];
