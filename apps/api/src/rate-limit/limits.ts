import type { Logger, Metrics } from "@propgate/observability";
import { Redis } from "ioredis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";

/** Every limit of DESIGN invariant 7; the name is the policy name in headers and metrics. */
export type LimitName = "ip" | "resident" | "open" | "partner_client" | "outbound";

export interface LimitPolicy {
  /** Requests allowed per window. */
  quota: number;
  windowSeconds: number;
}

export interface RateLimitSettings {
  policies: Record<LimitName, LimitPolicy>;
  /** Counters shared by every instance when set; in this process's memory otherwise. */
  redisUrl?: string;
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
  close(): Promise<void>;
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

const LIMIT_NAMES: LimitName[] = ["ip", "resident", "open", "partner_client", "outbound"];

/**
 * Fixed-window limits by `rate-limiter-flexible`: in memory, or in Redis (one combined count
 * across instances) with an in-memory insurance limiter of the same quota per instance that takes
 * over while Redis is unreachable or failing.
 */
export function createRateLimits(
  settings: RateLimitSettings,
  deps: { metrics: Metrics; logger: Logger },
): RateLimits {
  const { metrics, logger } = deps;
  const redis = settings.redisUrl ? connectRedis(settings.redisUrl, metrics, logger) : null;
  if (!redis) metrics.rateLimitBackendUp.set({ backend: "memory" }, 1);

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
      redis
        ?.removeAllListeners("close")
        .removeAllListeners("error")
        .on("error", () => {});
      redis?.disconnect();
    },
  };
}

/**
 * ioredis without an offline queue and with a short command timeout: while Redis is down or
 * slow a decision falls to the insurance limiter at once instead of waiting in a queue.
 */
function connectRedis(url: string, metrics: Metrics, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 500,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
  let down = false;
  metrics.rateLimitBackendUp.set({ backend: "redis" }, 0);
  redis.on("ready", () => {
    metrics.rateLimitBackendUp.set({ backend: "redis" }, 1);
    if (down) logger.info("rate-limit redis reachable again: limits are shared once more");
    down = false;
  });
  const lost = (error?: Error) => {
    metrics.rateLimitBackendUp.set({ backend: "redis" }, 0);
    if (down) return; // one line per outage, not one per reconnect attempt
    down = true;
    logger.warn(
      { err: error ? { name: error.name, message: error.message } : undefined },
      "rate-limit redis unavailable: each instance applies its local insurance limits",
    );
  };
  redis.on("error", (error: Error) => lost(error));
  redis.on("close", () => lost());
  return redis;
}
