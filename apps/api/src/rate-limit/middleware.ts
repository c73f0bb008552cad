import type { Context, Env, MiddlewareHandler } from "hono";
import { rateLimitHeaders } from "./headers.ts";
import type { LimitDecision, LimitName, RateLimits } from "./limits.ts";

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

/** tRPC's error envelope, so a tRPC client reads a refusal made before tRPC runs. */
export function trpcRefusal(requestId: string, decision: LimitDecision) {
  return {
    error: {
      message: refusalMessage(decision),
      code: -32029, // tRPC's JSON-RPC code for TOO_MANY_REQUESTS
      data: {
        code: "TOO_MANY_REQUESTS",
        httpStatus: 429,
        cause: { code: "RATE_LIMITED", retryAfterSeconds: decision.resetSeconds },
        requestId,
      },
    },
  };
}

/**
 * The per-partner-client limit for the inbound partner surface: mount it after the partner's
 * token is verified, with `clientId` reading the verified client id. Refusals have the one HTTP
 * error shape `{ error: { code: "RATE_LIMITED", message, requestId, retryAfterSeconds } }`.
 */
export function partnerClientRateLimit<E extends Env>(
  rateLimits: RateLimits,
  options: {
    clientId: (c: Context<E>) => string | null | undefined;
    requestId?: (c: Context<E>) => string | null | undefined;
  },
): MiddlewareHandler<E> {
  return rateLimitMiddleware<E>({
    rateLimits,
    limit: "partner_client",
    key: options.clientId,
    refusal: (c, decision) => ({
      error: {
        code: "RATE_LIMITED",
        message: refusalMessage(decision),
        requestId: options.requestId?.(c) ?? null,
        retryAfterSeconds: decision.resetSeconds,
      },
    }),
  });
}
