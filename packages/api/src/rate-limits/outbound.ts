import { OutboundRateLimitedError } from "../errors.ts";
import type { RateLimits } from "./limits.ts";

/** The `beforeSend` hook of the partner clients: each request takes one point of its partner's limit. */
export function outboundRateLimit(rateLimits: RateLimits) {
  return async (partner: string) => {
    const decision = await rateLimits.consume("outbound", partner);
    if (!decision.allowed) throw new OutboundRateLimitedError(partner, decision.resetSeconds);
  };
}
