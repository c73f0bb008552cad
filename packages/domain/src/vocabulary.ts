/**
 * Propgate's vocabulary, declared once (docs/architecture.md, "One vocabulary"): the Drizzle
 * CHECK constraints, the zod inputs, the partner contract and the admin filters all read these.
 */

/** The partner services Propgate calls. */
export const PARTNERS = ["intercom", "barrier"] as const;
export type Partner = (typeof PARTNERS)[number];

/**
 * The consent purposes of partner processing: each gates calls to a partner. `guests`: keys a
 * resident issues at the partner for a visitor or courier (the code passes through, never kept).
 */
export const PARTNER_PURPOSES = [
  "intercom",
  "barrier",
  "video",
  "faces",
  "plates",
  "guests",
] as const;
export type PartnerPurpose = (typeof PARTNER_PURPOSES)[number];

/**
 * Consent purposes (invariant 2): one per kind of partner processing, then Propgate's own
 * processing, which reaches no partner (`journal`: the events at the resident's doors, kept for
 * them).
 */
export const PURPOSES = [...PARTNER_PURPOSES, "journal"] as const;
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
  "keys.manage",
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
  "keys.create",
  "keys.list",
  "keys.delete",
  "subjects.erase",
  /** The state of an erasure the partner accepted (202) earlier: asked until it says done. */
  "subjects.erasure_status",
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

/**
 * Events a partner reports at one of its devices: a door opened, a device went off or on line,
 * someone rang a flat at an entrance panel (and the call ended, answered or missed), someone was
 * let in or refused.
 */
export const PARTNER_EVENT_TYPES = [
  "door.opened",
  "device.offline",
  "device.online",
  "call.incoming",
  "call.ended",
  "access.granted",
  "access.denied",
] as const;
export type PartnerEventType = (typeof PARTNER_EVENT_TYPES)[number];
/** The events about a device itself, addressed to no resident. */
export const DEVICE_EVENT_TYPES = [
  "door.opened",
  "device.offline",
  "device.online",
] as const satisfies readonly PartnerEventType[];

/** How someone was let in or refused at a partner's device (`access.granted` / `access.denied`). */
export const ENTRY_METHODS = ["app", "key", "code", "face", "plate", "call"] as const;
export type EntryMethod = (typeof ENTRY_METHODS)[number];

/** How a call at an entrance panel ended (`call.ended`). */
export const CALL_OUTCOMES = ["answered", "missed"] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

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
  "admin.units.upsert",
  "erasure.requested",
  "erasure.completed",
  "partner.access_check",
  "partner.event",
  "block.placed",
  "admin.blocks.lift",
  "admin.erasures.retry",
  /** An admin exported the destruction records (for an inspection: the period, the format). */
  "admin.erasures.records",
  /** An erasure passed ERASURE_DEADLINE_DAYS without the partner confirming it (an alert). */
  "erasure.overdue",
  "admin.video_sessions.end",
  /** An operator ended a resident's guest key (the admin as actor, their reason; never the code). */
  "admin.keys.revoke",
  /** An admin took a CSV of the audit trail (who, when, under which filter, whether cut). */
  "admin.audit.export",
  /**
   * An admin read a resident's journal (whose, who read it): where a resident went and who rang
   * is personal data, so each look at it is on record, unlike the admin's other reads.
   */
  "admin.journal.read",
  /** A resident's journal erased (their `journal` consent revoked): how many entries, no content. */
  "journal.erased",
  /** A resident took the report of everything Propgate holds about them (152-FZ art. 14). */
  "privacy.report",
  /** An admin produced a resident's privacy report on their written request (the reason). */
  "admin.privacy.report",
  /** The retention job ran: what it pruned and redacted, older than which cut. */
  "retention.run",
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/**
 * Every `result` an audit row carries: the outcome as the code writes it (`ok`, `denied` …), a
 * partner attempt's (`pending`, then `success` or `error`), a partner's access check (`allow`,
 * `deny`) or event (`accepted`, `unknown_device`). The admin filter offers exactly these.
 */
export const AUDIT_RESULTS = [
  "ok",
  "pending",
  "success",
  "accepted",
  "unchanged",
  "truncated",
  "allow",
  "deny",
  "denied",
  "error",
  "unknown_device",
  "overdue",
] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];

/** Where a consent was given or withdrawn. */
export const CONSENT_CHANNELS = ["app", "web", "admin"] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];

/** How a consent was given or withdrawn, as its history records it. */
export const CONSENT_METHODS = ["in_app_checkbox", "in_app_toggle", "admin_action"] as const;
export type ConsentMethod = (typeof CONSENT_METHODS)[number];

/** Why an erasure was asked of a partner: the resident's revoke, or an admin's request. */
export const ERASURE_REASONS = ["consent_revoked", "admin_request"] as const;
export type ErasureReason = (typeof ERASURE_REASONS)[number];

/** `accepted`: the partner took the request (202) and erases later; not sent again. */
export const ERASURE_STATUSES = ["pending", "done", "accepted"] as const;
export type ErasureStatus = (typeof ERASURE_STATUSES)[number];

/** The events webhook outbox: a message waits, then is delivered. */
export const WEBHOOK_STATUSES = ["pending", "delivered"] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];
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
  /** A resident creating guest keys far faster than visitors come: codes handed out in bulk. */
  "mass_key_creation",
] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/**
 * Whom a block stops. `resident_keys`: one resident's guest-key creation only (the id is their
 * user id); everything else they do goes on (docs/architecture.md, invariant 7).
 */
export const BLOCK_SUBJECT_TYPES = ["resident", "ip", "partner_client", "resident_keys"] as const;
export type BlockSubjectType = (typeof BLOCK_SUBJECT_TYPES)[number];
