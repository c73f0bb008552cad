/** Rate limits (invariant 7): the counters behind every limit and the decisions they give. */
import type { Logger, Metrics } from "@propgate/observability";
import type { Redis } from "ioredis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import { reportRedisStatus } from "./redis-status.ts";

/**
 * Every limit of invariant 7; the name is the policy name in headers and metrics. The two
 * `partner_token_*` limits count `POST /oauth/token` per peer address and per client id as
 * presented, before its secret is checked. `privacy_report` counts the privacy reports taken per
 * resident (and per admin producing them): each reads all their rows.
 */
export const LIMIT_NAMES = [
  "ip",
  "resident",
  "admin",
  "open",
  "partner_client",
  "partner_token_peer",
  "partner_token_client",
  "outbound",
  "privacy_report",
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export interface LimitPolicy {
  /** Requests allowed per window. */
  quota: number;
  windowSeconds: number;
}

export interface RateLimitSettings {
  policies: Record<LimitName, LimitPolicy>;
  /** Prefix of the limits' keys in Redis. */
  keyPrefix: string;
}

/** One limit's answer for one key, with what the RateLimit headers report. */
export interface LimitDecision {
  limit: LimitName;
  allowed: boolean;
  quota: number;
  windowSeconds: number;
  remaining: number;
  /** Seconds until the window's quota is restored; at least 1 when refused. */
  resetSeconds: number;
}

export interface RateLimits {
  readonly backend: "memory" | "redis";
  consume(limit: LimitName, key: string): Promise<LimitDecision>;
  /** Stops following the Redis connection's state; the connection is its owner's to close. */
  close(): Promise<void>;
}

/** What a refused caller is told, in every transport's refusal. */
export function refusalMessage(decision: LimitDecision): string {
  return `too many requests, try again in ${decision.resetSeconds} s`;
}

/** The local limiter that answers when Redis fails; each use is counted. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    options: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
  ) {
    super(options);
  }

  override consume(...args: Parameters<RateLimiterMemory["consume"]>): Promise<RateLimiterRes> {
    this.onUse();
    return super.consume(...args);
  }
}

/**
 * Fixed-window limits by `rate-limiter-flexible`: in memory, or in Redis through the instance's
 * connection (one combined count across instances) with an in-memory insurance limiter of the
 * same quota per instance that takes over while Redis is unreachable or failing.
 */
export function createRateLimits(
  settings: RateLimitSettings,
  deps: { metrics: Metrics; logger: Logger; redis?: Redis | null },
): RateLimits {
  const { metrics, logger } = deps;
  const redis = deps.redis ?? null;
  const stopReporting = reportRedisStatus(redis, metrics, logger);

  const limiters = {} as Record<LimitName, RateLimiterAbstract>;
  for (const limit of LIMIT_NAMES) {
    const { quota, windowSeconds } = settings.policies[limit];
    const base = { points: quota, duration: windowSeconds, keyPrefix: limit };
    limiters[limit] = redis
      ? new RateLimiterRedis({
          ...base,
          keyPrefix: `${settings.keyPrefix}rl:${limit}`,
          storeClient: redis,
          rejectIfRedisNotReady: true,
          insuranceLimiter: new InsuranceLimiter(base, () =>
            metrics.rateLimitRedisFallback.inc({ limit }),
          ),
        })
      : new RateLimiterMemory(base);
  }

  return {
    backend: redis ? "redis" : "memory",
    async consume(limit, key) {
      const { quota, windowSeconds } = settings.policies[limit];
      let allowed = true;
      let result: RateLimiterRes;
      try {
        result = await limiters[limit].consume(key);
      } catch (error) {
        if (!(error instanceof RateLimiterRes)) throw error; // only without insurance: never here
        allowed = false;
        result = error;
      }
      if (!allowed) metrics.rateLimited.inc({ limit });
      const seconds = Math.ceil(result.msBeforeNext / 1000);
      return {
        limit,
        allowed,
        quota,
        windowSeconds,
        remaining: result.remainingPoints,
        resetSeconds: allowed ? Math.max(0, seconds) : Math.max(1, seconds),
      };
    },
    async close() {
      stopReporting();
    },
  };
}
