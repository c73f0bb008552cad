import { CausedTRPCError } from "../errors.ts";
import { appendRateLimitHeaders } from "./headers.ts";
import type { LimitName, RateLimits } from "./limits.ts";
import { refusalMessage } from "./middleware.ts";

/**
 * Counts a tRPC call against one limit: its RateLimit fields go on the response either way; over
 * the limit the call fails with TOO_MANY_REQUESTS (429), cause `RATE_LIMITED`.
 */
export async function enforceRateLimit(
  rateLimits: RateLimits,
  responseHeaders: Headers,
  limit: LimitName,
  key: string,
): Promise<void> {
  const decision = await rateLimits.consume(limit, key);
  appendRateLimitHeaders(responseHeaders, [decision]);
  if (!decision.allowed) {
    throw new CausedTRPCError("TOO_MANY_REQUESTS", refusalMessage(decision), {
      code: "RATE_LIMITED",
      retryAfterSeconds: decision.resetSeconds,
    });
  }
}
