export { type AdminReadLimits, createAdminReadLimits } from "./admin/read-limits.ts";
export {
  ADMIN_ROLE,
  createResidentVerifier,
  type Principal,
  type ResidentVerifier,
} from "./auth.ts";
export { AUDIT_KEYS_PATH, auditKeysJwks } from "./consent/audit-keys-jwks.ts";
export type { ReceiptSigner } from "./consent/receipts.ts";
export type { AppDeps, JournalEvents } from "./deps.ts";
export { startErasureWorker } from "./erasure/worker.ts";
export {
  causeOfTRPCError,
  type ErrorCause,
  ServiceUnavailableError,
  trpcErrorEnvelope,
} from "./errors.ts";
export { createUnitConfirmer, type UnitConfirmer } from "./events/confirm-units.ts";
export type { JournalNotice } from "./events/event-hub.ts";
export { databaseJournal } from "./events/journal-access.ts";
export { createJournalEvents, type JournalAccess } from "./events/journal-events.ts";
export { startJournalPruner } from "./events/journal-pruner.ts";
export type { ResidentEvent } from "./events/resident-event.ts";
export { startEventsWebhookWorker } from "./events-webhook/worker.ts";
export { startKeyEndWorker } from "./keys/end-worker.ts";
export { residentApiDocument } from "./openapi.ts";
export { createInflightCalls } from "./partner-call/inflight.ts";
export { createPartners, type Partners, type PartnerTuning } from "./partners.ts";
export type { PrivacyReportDocument, SignedPrivacyReport } from "./privacy/report.ts";
export { rateLimitHeaders } from "./rate-limits/headers.ts";
export { rateLimitMiddleware } from "./rate-limits/http-middleware.ts";
export {
  createRateLimits,
  LIMIT_NAMES,
  type LimitDecision,
  type LimitName,
  type RateLimits,
  refusalMessage,
} from "./rate-limits/limits.ts";
export { outboundRateLimit } from "./rate-limits/outbound.ts";
export { closeRedis, openRedis, type RedisConnection } from "./redis-connection.ts";
export { addResponseHeaders } from "./response-headers.ts";
export { startRetentionWatch } from "./retention/last-run-watch.ts";
export { type AppRouter, appRouter } from "./root.ts";
export type { AppSettings, EventsWebhookSettings } from "./settings.ts";
export { RequestTiming } from "./timing.ts";
export type { Context } from "./trpc.ts";
export { startVideoEndWorker } from "./video/end-worker.ts";
export { WATCH_RULES, type WatchRule } from "./watch/rules.ts";
export { createWatch, secondsLeft, type Watch, type WatchSettings } from "./watch/watch.ts";
