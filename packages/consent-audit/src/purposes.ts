/** Consent-side vocabulary; the shared lists come from @propgate/domain (declared once). */
export {
  CONSENT_CHANNELS,
  type ConsentChannel,
  DEVICE_KINDS,
  type DeviceKind,
  ERASURE_CATEGORIES,
  ERASURE_PARTNER,
  ERASURE_REASONS,
  ERASURE_STATUSES,
  type ErasureCategory,
  type ErasureReason,
  type ErasureStatus,
  PARTNERS,
  type Partner,
  PURPOSES,
  type Purpose,
} from "@propgate/domain";

export const CONSENT_ACTIONS = ["grant", "revoke"] as const;
export type ConsentAction = (typeof CONSENT_ACTIONS)[number];

export const CONSENT_STATES = ["granted", "revoked"] as const;
export type ConsentStoredState = (typeof CONSENT_STATES)[number];

/** The partner's answer a destruction record rests on (what an inspector is shown). */
export const DESTRUCTION_CONFIRMATIONS = [
  "200 on DELETE",
  "204 on DELETE",
  "status done on poll",
] as const;
export type DestructionConfirmation = (typeof DESTRUCTION_CONFIRMATIONS)[number];

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

/** A guest key's life: issued, queued to be ended at the partner, ended there. */
export const GUEST_KEY_STATES = ["active", "ending", "ended"] as const;
export type GuestKeyState = (typeof GUEST_KEY_STATES)[number];

/**
 * Why a guest key ended: the resident revoked it, their `guests` consent was revoked, the site
 * left their token, a block for abuse, their erasure, an operator, its validity ran out, or it
 * was one too many (made by concurrent creates that were each under the active limit).
 */
export const GUEST_KEY_END_REASONS = [
  "resident",
  "consent_revoked",
  "site_removed",
  "blocked",
  "erased",
  "admin",
  "expired",
  "over_limit",
] as const;
export type GuestKeyEndReason = (typeof GUEST_KEY_END_REASONS)[number];
