import type { Context, Env, MiddlewareHandler } from "hono";
import { addResponseHeaders } from "../response-headers.ts";
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
    addResponseHeaders(c, rateLimitHeaders([decision]), { append: true });
  };
}
