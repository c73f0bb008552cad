import { z } from "zod";

/** The codes a `PartnerSurfaceError` carries. */
const SURFACE_ERROR_CODES = [
  "INVALID_INPUT",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "INSUFFICIENT_SCOPE",
  "NOT_FOUND",
  "BLOCKED",
] as const;

/** The surface's one error shape; `INTERNAL` is an error of ours, its cause never told. */
export const SurfaceErrorBody = z.object({
  error: z.object({
    code: z.enum([...SURFACE_ERROR_CODES, "INTERNAL"]),
    message: z.string(),
    requestId: z.string(),
  }),
});
export type SurfaceErrorBody = z.infer<typeof SurfaceErrorBody>;

/** The same shape for a client over its rate limit (`partnerClientRateLimit`). */
export const RateLimitedBody = z.object({
  error: z.object({
    code: z.literal("RATE_LIMITED"),
    message: z.string(),
    requestId: z.string().nullable(),
    retryAfterSeconds: z.number().int().min(0),
  }),
});
export type RateLimitedBody = z.infer<typeof RateLimitedBody>;

/**
 * An error answered in the surface's one shape `{ error: { code, message, requestId } }`.
 * The message is ours, never an echo of the request.
 */
export class PartnerSurfaceError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 415,
    readonly code: (typeof SURFACE_ERROR_CODES)[number],
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "PartnerSurfaceError";
  }
}

/**
 * RFC 6749 §5.2's codes, and two for refusals it has no code for. `slow_down` (429, over a
 * token-request limit): registered for the token endpoint by RFC 8628 §3.5 with just this
 * meaning, "asking too often". `temporarily_unavailable` (503, every verification slot and the
 * queue taken): RFC 6749 §4.1.2.1's own word for a server that is overloaded for now.
 */
const OAUTH_ERROR_CODES = [
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "invalid_scope",
  "unsupported_grant_type",
  "slow_down",
  "temporarily_unavailable",
] as const;

/** RFC 6749 §5.2 body of the token endpoint's errors. */
export const OAuthErrorBody = z.object({
  error: z.enum(OAUTH_ERROR_CODES),
  error_description: z.string(),
});
export type OAuthErrorBody = z.infer<typeof OAuthErrorBody>;

/** RFC 6749 §5.2 error of the token endpoint: `{ error, error_description }`. */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401 | 429 | 503,
    readonly error: (typeof OAUTH_ERROR_CODES)[number],
    readonly description: string,
    /** `Retry-After` and the RateLimit fields of a refusal. */
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = "OAuthError";
  }
}
