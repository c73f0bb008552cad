export type {
  AuditChainVerdict,
  AuditContext,
  AuditEvent,
  AuditEventInput,
  ListAuditEventsQuery,
} from "./audit";
export {
  countAuditEvents,
  listAuditEvents,
  lockAuditChain,
  recordAuditEvent,
  verifyAuditChain,
} from "./audit";
export { auditRowHash, canonicalAuditContent, GENESIS_HASH } from "./audit-chain";
export type { ConsentState, GrantConsentInput, Notice, RevokeConsentInput } from "./consent";
export { grantConsent, listConsents, listCurrentNotices, revokeConsent } from "./consent";
export type { Database, DatabaseHandle, OpenDatabaseOptions } from "./database";
export { openDatabase } from "./database";
export type { Device } from "./devices";
export {
  DeviceRecord,
  getDevice,
  listAllDevices,
  listDevicesForSites,
  upsertDevices,
} from "./devices";
export { ConsentRequiredError, InvalidInputError, StaleNoticeError } from "./errors";
export type { Readiness } from "./migrations";
export { checkReadiness, migrateDatabase, migrationsFolder } from "./migrations";
export type { DeniedInput, PartnerAttemptInput, PartnerResultInput } from "./partner-gate";
export { recordDenied, recordPartnerAttempt, recordPartnerResult } from "./partner-gate";
export type {
  ConsentChannel,
  DeviceKind,
  Partner,
  Purpose,
} from "./purposes";
export { CONSENT_CHANNELS, DEVICE_KINDS, PARTNERS, PURPOSES } from "./purposes";
export type { VideoSession } from "./video-sessions";
export {
  activateVideoSession,
  endVideoSession,
  getVideoSession,
  listLiveVideoSessions,
  reserveVideoSession,
  SessionLimitError,
} from "./video-sessions";
