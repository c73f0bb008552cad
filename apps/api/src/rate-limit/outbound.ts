import { PartnerUnavailableError } from "@propgate/partner-client";
import type { RateLimits } from "./limits.ts";

/**
 * Our own cap on requests to one partner was reached, so nothing was sent. To the resident this
 * is the partner being unavailable for a moment (PARTNER_UNAVAILABLE with `retryAfterSeconds`):
 * the cap protects the partner from all residents together, not from this one.
 */
export class OutboundRateLimitedError extends PartnerUnavailableError {
  constructor(partner: string, retryAfterSeconds: number) {
    super(`requests to partner ${partner} are over the local rate limit`, retryAfterSeconds);
    this.name = "OutboundRateLimitedError";
  }
}

/** The `beforeSend` hook of the partner clients: each request takes one point of its partner's limit. */
export function outboundRateLimit(rateLimits: RateLimits) {
  return async (partner: string) => {
    const decision = await rateLimits.consume("outbound", partner);
    if (!decision.allowed) throw new OutboundRateLimitedError(partner, decision.resetSeconds);
  };
}
