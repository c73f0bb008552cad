export type { AdminSessionRow, AdminSessionTimeouts } from "./admin-sessions";
export {
  deleteAdminSession,
  insertAdminSession,
  lockAdminSession,
  pingAdminSessions,
  resealAdminSession,
  sweepAdminSessions,
  touchAdminSession,
} from "./admin-sessions";
export type {
  AuditContext,
  AuditEvent,
  AuditEventInput,
  ListAuditEventsQuery,
} from "./audit";
export {
  appendAuditEvents,
  auditChainId,
  countAuditEvents,
  listAuditEvents,
  lockAuditChain,
  recordAuditEvent,
} from "./audit";
export {
  auditRowHash,
  canonicalAuditContent,
  chainGenesis,
  GENESIS_HASH,
  LEGACY_CHAIN,
} from "./audit-chain";
export {
  type AuditCheckpoint,
  type CheckpointCadence,
  DEFAULT_CHECKPOINT_CADENCE,
  type ProcessChainSigning,
  signProcessChain,
  writeCheckpoint,
} from "./audit-checkpoints";
export {
  CHECKPOINT_LOG_MESSAGE,
  CheckpointLogError,
  checkpointLogFields,
  type LoggedCheckpoint,
  parseCheckpointLog,
} from "./audit-log-stream";
export {
  AUDIT_TARGETS,
  type AuditRedactionResult,
  redactAuditRows,
} from "./audit-redaction";
export {
  AuditKeyError,
  type AuditSigner,
  auditKeyId,
  auditVerifyKey,
  checkpointMessage,
  createAuditSigner,
  generateAuditSigningKey,
} from "./audit-signing";
export {
  AuditCursor,
  type AuditExportQuery,
  AuditFilter,
  type AuditPage,
  type AuditPageQuery,
  exportAuditCsv,
  pageAuditEvents,
  withClientNetwork,
} from "./audit-trail";
export type { AuditChainVerdict } from "./audit-verify";
export { verifyAuditChain } from "./audit-verify";
export {
  type AuditWriter,
  AuditWriterClosedError,
  type AuditWriterOptions,
  createAuditWriter,
  createCallAuditWriter,
} from "./audit-writer";
export type { Anomaly, AnomalyHit, Block, BlockInForce, BlockList } from "./blocks";
export {
  BLOCKS_CHANNEL,
  blockSeconds,
  createBlockList,
  liftBlock,
  listAnomalies,
  listBlocks,
  placeBlock,
  recordAnomaly,
} from "./blocks";
export type {
  ConsentHistoryEntry,
  ConsentState,
  GrantConsentInput,
  Notice,
  RevokeConsentInput,
  RevokeConsentsInput,
} from "./consent";
export {
  grantConsent,
  isConsentGranted,
  listConsentHistory,
  listConsents,
  listCurrentNotices,
  revokeConsent,
  revokeConsents,
} from "./consent";
export type { ConsentBus, ConsentBusOptions, ConsentChange } from "./consent-bus";
export { CONSENT_CHANNEL, createConsentBus } from "./consent-bus";
export { type ConsentReceiptEvent, pageConsentReceiptEvents } from "./consent-receipt-events";
export type { Database, DatabaseHandle, OpenDatabaseOptions } from "./database";
export { type ConfiguredDatabase, openConfiguredDatabase, openDatabase } from "./database";
export type { DestructionRecord, DestructionRecordsQuery } from "./destruction-records";
export { exportDestructionRecords } from "./destruction-records";
export type { Device } from "./devices";
export {
  DeviceRecord,
  getDevice,
  getDeviceByPartnerId,
  listAllDevices,
  listDevicesForSites,
  upsertDevices,
} from "./devices";
export type {
  EnqueueErasureInput,
  ErasedCounts,
  ErasureRequest,
  ListErasuresQuery,
} from "./erasure";
export {
  claimDueErasurePolls,
  claimDueErasures,
  completeErasure,
  countOverdueErasures,
  countPendingErasures,
  ERASURE_OPERATION,
  enqueueErasure,
  failErasureAttempt,
  finishAcceptedErasure,
  listErasures,
  markOverdueErasures,
  retryErasure,
  scheduleErasurePoll,
} from "./erasure";
export {
  BlockNotFoundError,
  ConsentRequiredError,
  ErasureNotFoundError,
  InvalidInputError,
  StaleNoticeError,
} from "./errors";
export type { GuestKey, RecordKeyInput } from "./guest-keys";
export {
  claimDueKeyEnds,
  completeKeyEnd,
  countActiveKeys,
  countEndingKeys,
  endExpiredKeys,
  failKeyEndAttempt,
  findKeyByIdempotencyKey,
  getKey,
  listKeys,
  recordKey,
  recordKeyWithinLimit,
  requestEndOfMovedDeviceKeys,
  requestKeyEnd,
  requestKeyEnds,
} from "./guest-keys";
export { type AdminGuestKey, listKeysForAdmin, requestAdminKeyEnd } from "./guest-keys-admin";
export {
  type ConsentCache,
  createConsentCache,
  createDeviceCache,
  type DeviceCache,
} from "./hot-caches";
export {
  appendJournal,
  createJournalWriter,
  eraseJournal,
  type JournalEntry,
  type JournalEntryInput,
  type JournalPage,
  type JournalWriter,
  journalSince,
  type ListJournalQuery,
  listJournal,
} from "./journal";
export { type Pruned, pruneJournal } from "./journal-retention";
export { loadMigrateEnv, migrateEnv } from "./migrate-env";
export type { Readiness } from "./migrations";
export { checkReadiness, migrateDatabase, migrationsFolder } from "./migrations";
export { claimEventReceipt, findEventReceipt } from "./partner-event-receipts";
export type { DeniedInput, PartnerAttemptInput, PartnerResultInput } from "./partner-gate";
export { recordDenied, recordPartnerAttempt, recordPartnerResult } from "./partner-gate";
export type {
  PartnerCheckState,
  PartnerCheckStatus,
  PartnerCheckTransition,
} from "./partner-health";
export { loadPartnerHealth, partnerHealthReport, savePartnerHealth } from "./partner-health";
export type {
  PartnerSubject,
  RememberSubjectInput,
  SubjectOwner,
  SubjectRegistry,
} from "./partner-subjects";
export {
  confirmSubjectSites,
  createSubjectRegistry,
  findSubject,
  rememberSubject,
} from "./partner-subjects";
export {
  errorCode,
  isDatabaseUnavailable,
  isStatementTimeout,
  rootMessage,
  startupFailure,
} from "./pg-errors";
export type {
  ConsentChannel,
  DeviceKind,
  ErasureCategory,
  ErasureReason,
  ErasureStatus,
  GuestKeyEndReason,
  GuestKeyState,
  Partner,
  Purpose,
  VideoEndReason,
} from "./purposes";
export {
  CONSENT_CHANNELS,
  DEVICE_KINDS,
  ERASURE_CATEGORIES,
  ERASURE_PARTNER,
  ERASURE_REASONS,
  ERASURE_STATUSES,
  GUEST_KEY_END_REASONS,
  GUEST_KEY_STATES,
  PARTNERS,
  PURPOSES,
} from "./purposes";
export {
  collectResidentData,
  type KeptCount,
  type MonthlyCount,
  RESIDENT_AUDIT_ROWS,
  type ResidentConsentEvent,
  type ResidentData,
  type ResidentDestructionRecord,
  type ResidentPseudonym,
  type ResidentUnit,
} from "./resident-data";
export {
  createResidentEventBus,
  RESIDENT_EVENTS_CHANNEL,
  type ResidentEventBus,
  type ResidentEventBusOptions,
  type ResidentEventNotice,
} from "./resident-event-bus";
export {
  type FindResidentsQuery,
  type FoundResident,
  findResidents,
  RECENT_AUDIT_ROWS,
  residentSeen,
} from "./resident-lookup";
export {
  lastRetentionRun,
  type PruneCounts,
  type PruneOptions,
  pruneExpired,
  RETENTION_KINDS,
  type RetentionCuts,
  type RetentionKind,
  type RetentionPeriods,
  RetentionRunningError,
  retentionCuts,
  withRetentionLock,
} from "./retention";
export { withStatementTimeout } from "./statement-timeout";
export {
  confirmUnits,
  getUnitByPartnerId,
  MAX_UNITS_PER_RESIDENT,
  residentsOfUnit,
  UnitRecord,
  upsertUnits,
} from "./unit-residents";
export type {
  ListVideoSessionsQuery,
  VideoSession,
  VideoSessionState,
} from "./video-sessions";
export {
  activateVideoSession,
  claimDueVideoEnds,
  countEndingVideoSessions,
  endStaleReservations,
  endVideoSession,
  failVideoEndAttempt,
  getVideoSession,
  listLiveVideoSessions,
  listVideoSessions,
  requestAdminVideoSessionEnd,
  requestEndOfMovedCameraSessions,
  requestEndOfSessionsOffSites,
  requestVideoSessionEnd,
  reserveVideoSession,
  SessionLimitError,
  VIDEO_SESSION_STATES,
} from "./video-sessions";
export type { VpnEvent, VpnEventInput } from "./vpn-events";
export { listVpnEvents, recordVpnEvent } from "./vpn-events";
export {
  claimDueWebhooks,
  failWebhookAttempt,
  type ListWebhookOutboxQuery,
  listWebhookOutbox,
  markWebhooksDelivered,
  WEBHOOK_STATUSES,
  type WebhookMessage,
  type WebhookOutboxRow,
  type WebhookOutboxStats,
  webhookOutboxStats,
} from "./webhook-outbox";
