/**
 * Propgate's vocabulary, declared once (docs/architecture.md, "One vocabulary"): the Drizzle
 * CHECK constraints, the zod inputs, the partner contract and the admin filters all read these.
 */

/** The partner services Propgate calls. */
export const PARTNERS = ["intercom", "barrier"] as const;
export type Partner = (typeof PARTNERS)[number];

/** Consent purposes (invariant 2): one per kind of partner processing. */
export const PURPOSES = ["intercom", "barrier", "video", "faces", "plates"] as const;
export type Purpose = (typeof PURPOSES)[number];

export const DEVICE_KINDS = ["door", "gate", "camera"] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** What a partner can be told to erase; each is also the purpose whose revoke erases it. */
export const ERASURE_CATEGORIES = ["faces", "plates"] as const;
export type ErasureCategory = (typeof ERASURE_CATEGORIES)[number];

/** The partner that holds each category: faces at the intercom, plates at the barrier. */
export const ERASURE_PARTNER: Readonly<Record<ErasureCategory, Partner>> = {
  faces: "intercom",
  plates: "barrier",
};

/** OAuth scopes of the partner contract: one per capability, each call requests only its own. */
export const PARTNER_SCOPES = [
  "intercom.open",
  "barrier.open",
  "plates.manage",
  "faces.manage",
  "video.view",
  "subjects.erase",
  "health.read",
] as const;
export type PartnerScope = (typeof PARTNER_SCOPES)[number];

/** The operations of the partner contract; `OPERATIONS` in the contract describes each. */
export const PARTNER_OPERATIONS = [
  "intercom.open",
  "barrier.open",
  "video.create_session",
  "video.end_session",
  "plates.list",
  "plates.add",
  "plates.remove",
  "faces.list",
  "faces.enroll",
  "faces.remove",
  "subjects.erase",
  "health",
] as const;
export type PartnerOperation = (typeof PARTNER_OPERATIONS)[number];

/** Scopes of the partner surface (the partners' calls into Propgate), one per endpoint. */
export const SURFACE_SCOPES = ["access.check", "events.write"] as const;
export type SurfaceScope = (typeof SURFACE_SCOPES)[number];

/** How a partner asks whether someone may pass: a key/app, a recognised face, a plate. */
export const ACCESS_METHODS = ["key", "face", "plate"] as const;
export type AccessMethod = (typeof ACCESS_METHODS)[number];
/** The audit operation of an access check by each method. */
export const ACCESS_CHECK_OPERATIONS = [
  "access_check.key",
  "access_check.face",
  "access_check.plate",
] as const satisfies readonly `access_check.${AccessMethod}`[];

/** Events a partner reports at one of its devices. */
export const PARTNER_EVENT_TYPES = ["door.opened", "device.offline", "device.online"] as const;
export type PartnerEventType = (typeof PARTNER_EVENT_TYPES)[number];

/** Every `operation` an audit row can carry. */
export const AUDIT_OPERATIONS = [
  ...PARTNER_OPERATIONS,
  ...ACCESS_CHECK_OPERATIONS,
  ...PARTNER_EVENT_TYPES,
] as const;
export type AuditOperation = (typeof AUDIT_OPERATIONS)[number];

/** Every `kind` of audit row the code writes. */
export const AUDIT_KINDS = [
  "consent.grant",
  "consent.revoke",
  "partner.request",
  "partner.response",
  "access.denied",
  "admin.devices.upsert",
  "erasure.requested",
  "erasure.completed",
  "partner.access_check",
  "partner.event",
  "block.placed",
  "admin.blocks.lift",
  "admin.erasures.retry",
  "admin.video_sessions.end",
  /** An admin took a CSV of the audit trail (who, when, under which filter, whether cut). */
  "admin.audit.export",
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];
/** What the anomaly rules find (`propgate_anomalies_total{kind}`). */
export const ANOMALY_KINDS = [
  /** A partner client checking access for many subjects, or very often. */
  "mass_access_checks",
  /** A resident refused at many devices or sites: trying ids. */
  "enumeration",
  /** A resident opening far more often than people do, still under the rate limit. */
  "unusual_opening",
  /** Repeated bad bearer tokens from one client IP on the resident api. */
  "credential_guessing",
  /** Repeated failed client authentication at the partner token endpoint (per client id, per peer). */
  "partner_credential_guessing",
  /** Repeated CONSENT_REQUIRED for one resident. */
  "consent_probing",
  /** Requests to the partner surface from outside the VPN. */
  "outside_vpn",
] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Whom a block stops. */
export const BLOCK_SUBJECT_TYPES = ["resident", "ip", "partner_client"] as const;
export type BlockSubjectType = (typeof BLOCK_SUBJECT_TYPES)[number];
