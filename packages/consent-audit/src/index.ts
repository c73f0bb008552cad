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
export type { Database, DatabaseHandle, OpenDatabaseOptions } from "./database";
export { type ConfiguredDatabase, openConfiguredDatabase, openDatabase } from "./database";
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
  claimDueErasures,
  completeErasure,
  countOverdueErasures,
  countPendingErasures,
  ERASURE_OPERATION,
  enqueueErasure,
  failErasureAttempt,
  listErasures,
  retryErasure,
} from "./erasure";
export {
  BlockNotFoundError,
  ConsentRequiredError,
  ErasureNotFoundError,
  InvalidInputError,
  StaleNoticeError,
} from "./errors";
export {
  type ConsentCache,
  createConsentCache,
  createDeviceCache,
  type DeviceCache,
} from "./hot-caches";
export { loadMigrateEnv, migrateEnv } from "./migrate-env";
export type { Readiness } from "./migrations";
export { checkReadiness, migrateDatabase, migrationsFolder } from "./migrations";
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
  PARTNERS,
  PURPOSES,
} from "./purposes";
export { withStatementTimeout } from "./statement-timeout";
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
