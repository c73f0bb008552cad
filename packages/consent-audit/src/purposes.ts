/** The consent purposes of DESIGN.md invariant 2: one per kind of partner processing. */
export const PURPOSES = ["intercom", "barrier", "video", "faces", "plates"] as const;
export type Purpose = (typeof PURPOSES)[number];

export const DEVICE_KINDS = ["door", "gate", "camera"] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export const PARTNERS = ["intercom", "barrier"] as const;
export type Partner = (typeof PARTNERS)[number];

export const CONSENT_ACTIONS = ["grant", "revoke"] as const;
export type ConsentAction = (typeof CONSENT_ACTIONS)[number];

export const CONSENT_STATES = ["granted", "revoked"] as const;
export type ConsentStoredState = (typeof CONSENT_STATES)[number];

export const CONSENT_CHANNELS = ["app", "web", "admin"] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];

/** What a partner can be told to erase; each is also the consent purpose whose revoke erases it. */
export const ERASURE_CATEGORIES = ["faces", "plates"] as const;
export type ErasureCategory = (typeof ERASURE_CATEGORIES)[number];

/** The partner that holds each category: faces at the intercom, plates at the barrier. */
export const ERASURE_PARTNER: Readonly<Record<ErasureCategory, Partner>> = {
  faces: "intercom",
  plates: "barrier",
};

export const ERASURE_REASONS = ["consent_revoked", "admin_request"] as const;
export type ErasureReason = (typeof ERASURE_REASONS)[number];

export const ERASURE_STATUSES = ["pending", "done"] as const;
export type ErasureStatus = (typeof ERASURE_STATUSES)[number];
