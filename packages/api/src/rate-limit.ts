/** Rate limits (invariant 7): the counters, the IETF RateLimit headers, and their HTTP and tRPC uses. */
import type { Logger, Metrics } from "@propgate/observability";
import { PartnerUnavailableError } from "@propgate/partner-client";
import type { Context, Env, MiddlewareHandler } from "hono";
import { Redis } from "ioredis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import { RateLimitedError } from "./errors.ts";

/**
 * Every limit of invariant 7; the name is the policy name in headers and metrics. The two
 * `partner_token_*` limits count `POST /oauth/token` per peer address and per client id as
 * presented, before its secret is checked.
 */
export const LIMIT_NAMES = [
  "ip",
  "resident",
  "open",
  "partner_client",
  "partner_token_peer",
  "partner_token_client",
  "outbound",
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

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
export function openRedis(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 500,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
}

function connectRedis(url: string, metrics: Metrics, logger: Logger): Redis {
  const redis = openRedis(url);
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

/**
 * `RateLimit-Policy` and `RateLimit` as structured-field lists, one item per policy, per
 * draft-ietf-httpapi-ratelimit-headers-11 §3 and §4 (`"open";q=20;w=60`, `"open";r=0;t=12`),
 * plus `Retry-After` (RFC 9110 §10.2.3) on a refusal, never earlier than the window's end (§6).
 */
export function rateLimitHeaders(decisions: LimitDecision[]): Array<[string, string]> {
  if (decisions.length === 0) return [];
  const headers: Array<[string, string]> = [
    [
      "RateLimit-Policy",
      decisions.map((d) => `"${d.limit}";q=${d.quota};w=${d.windowSeconds}`).join(", "),
    ],
    [
      "RateLimit",
      decisions.map((d) => `"${d.limit}";r=${d.remaining};t=${d.resetSeconds}`).join(", "),
    ],
  ];
  const refused = decisions.filter((d) => !d.allowed);
  if (refused.length > 0)
    headers.push(["Retry-After", String(Math.max(...refused.map((d) => d.resetSeconds)))]);
  return headers;
}

/** Adds the headers of `decisions` to `target`, extending lists already there. */
export function appendRateLimitHeaders(target: Headers, decisions: LimitDecision[]): void {
  for (const [name, value] of rateLimitHeaders(decisions)) {
    if (name === "Retry-After") {
      const current = Number(target.get(name) ?? "0");
      target.set(name, String(Math.max(current, Number(value))));
    } else target.append(name, value);
  }
}

export interface RateLimitMiddlewareOptions<E extends Env> {
  rateLimits: RateLimits;
  limit: LimitName;
  /** What is counted; no key (e.g. no socket, an in-process request) lets the request through. */
  key: (c: Context<E>) => string | null | undefined;
  /** The 429's JSON body. */
  refusal: (c: Context<E>, decision: LimitDecision) => unknown;
}

/**
 * A Hono middleware that counts each request against one limit: over it, `429` with
 * `Retry-After`, `RateLimit-Policy` and `RateLimit`; under it, the request goes on and its
 * response carries the two RateLimit fields.
 */
export function rateLimitMiddleware<E extends Env>(
  options: RateLimitMiddlewareOptions<E>,
): MiddlewareHandler<E> {
  return async (c, next) => {
    const key = options.key(c);
    if (!key) return next();
    const decision = await options.rateLimits.consume(options.limit, key);
    if (!decision.allowed) {
      const response = c.json(options.refusal(c, decision), 429);
      for (const [name, value] of rateLimitHeaders([decision])) response.headers.set(name, value);
      return response;
    }
    await next();
    for (const [name, value] of rateLimitHeaders([decision]))
      c.header(name, value, { append: true });
  };
}

export function refusalMessage(decision: LimitDecision): string {
  return `too many requests, try again in ${decision.resetSeconds} s`;
}

/**
 * Counts a tRPC call against one limit: its RateLimit fields go on the response either way; over
 * the limit the call fails with RATE_LIMITED (429, `Retry-After`).
 */
export async function enforceRateLimit(
  rateLimits: RateLimits,
  responseHeaders: Headers,
  limit: LimitName,
  key: string,
): Promise<void> {
  const decision = await rateLimits.consume(limit, key);
  appendRateLimitHeaders(responseHeaders, [decision]);
  if (!decision.allowed)
    throw new RateLimitedError(refusalMessage(decision), decision.resetSeconds);
}

/**
 * Our own cap on requests to one partner was reached, so nothing was sent. To the resident this
 * is the partner being unavailable for a moment (PARTNER_UNAVAILABLE with `retryAfterSeconds`):
 * the cap protects the partner from all residents together, not from this one.
 */
export class OutboundRateLimitedError extends PartnerUnavailableError {
  constructor(partner: string, retryAfterSeconds: number) {
    super(`requests to partner ${partner} are over the local rate limit`, retryAfterSeconds);
  }
}

/** The `beforeSend` hook of the partner clients: each request takes one point of its partner's limit. */
export function outboundRateLimit(rateLimits: RateLimits) {
  return async (partner: string) => {
    const decision = await rateLimits.consume("outbound", partner);
    if (!decision.allowed) throw new OutboundRateLimitedError(partner, decision.resetSeconds);
  };
}
