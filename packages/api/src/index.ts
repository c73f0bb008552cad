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
export { rateLimitHeaders } from "./rate-limits/headers.ts";
export { rateLimitMiddleware } from "./rate-limits/http-middleware.ts";
export {
  createRateLimits,
  type LimitDecision,
  type LimitName,
  type RateLimits,
  refusalMessage,
} from "./rate-limits/limits.ts";
export { outboundRateLimit } from "./rate-limits/outbound.ts";
export { closeRedis, openRedis, type RedisConnection } from "./redis-connection.ts";
export { type AppRouter, appRouter } from "./root.ts";
export type { AppSettings } from "./settings.ts";
export { RequestTiming } from "./timing.ts";
export type { Context } from "./trpc.ts";
export { startVideoEndWorker } from "./video/end-worker.ts";
export { WATCH_RULES, type WatchRule } from "./watch/rules.ts";
export { createWatch, secondsLeft, type Watch, type WatchSettings } from "./watch/watch.ts";
