import { RateLimitedError } from "../errors.ts";
import { appendRateLimitHeaders } from "./headers.ts";
import { type LimitDecision, type LimitName, type RateLimits, refusalMessage } from "./limits.ts";

/**
 * Counts a tRPC call against one limit, or against several of the same key at once (their counts
 * go to Redis together: one round trip, not one per limit, and a call refused by one is counted
 * by all). Their RateLimit fields go on the response either way; over any limit the call fails
 * with RATE_LIMITED (429), `Retry-After` the latest of the refusing limits' resets.
 */
export async function enforceRateLimit(
  rateLimits: RateLimits,
  responseHeaders: Headers,
  limits: LimitName | readonly LimitName[],
  key: string,
): Promise<void> {
  const asked = typeof limits === "string" ? [limits] : limits;
  const decisions = await Promise.all(asked.map((limit) => rateLimits.consume(limit, key)));
  appendRateLimitHeaders(responseHeaders, decisions);
  let refused: LimitDecision | undefined;
  for (const decision of decisions) {
    if (!decision.allowed && (!refused || decision.resetSeconds > refused.resetSeconds))
      refused = decision;
  }
  if (refused) throw new RateLimitedError(refusalMessage(refused), refused.resetSeconds);
}
