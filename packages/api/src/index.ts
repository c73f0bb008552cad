export { type AdminReadLimits, createAdminReadLimits } from "./admin/read-limits.ts";
export {
  ADMIN_ROLE,
  createResidentVerifier,
  type Principal,
  type ResidentVerifier,
} from "./auth.ts";
export type { AppDeps } from "./deps.ts";
export { startErasureWorker } from "./erasure/worker.ts";
export { causeOfTRPCError, type ErrorCause, trpcErrorEnvelope } from "./errors.ts";
export { residentApiDocument } from "./openapi.ts";
export { createInflightCalls } from "./partner-call/inflight.ts";
export { createPartners, type Partners, type PartnerTuning } from "./partners.ts";
export {
  createRateLimits,
  type LimitDecision,
  type LimitName,
  outboundRateLimit,
  type RateLimits,
  rateLimitHeaders,
  rateLimitMiddleware,
  refusalMessage,
} from "./rate-limit.ts";
export { type AppRouter, appRouter } from "./root.ts";
export type { AppSettings } from "./settings.ts";
export { RequestTiming } from "./timing.ts";
export type { Context } from "./trpc.ts";
export { startVideoEndWorker } from "./video/end-worker.ts";
export {
  createWatch,
  secondsLeft,
  WATCH_RULES,
  type Watch,
  type WatchRule,
  type WatchSettings,
} from "./watch.ts";
