import { RateLimitedError } from "../errors.ts";
import { appendRateLimitHeaders } from "./headers.ts";
import { type LimitName, type RateLimits, refusalMessage } from "./limits.ts";

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
