/**
 * The one error model (docs/architecture.md, "Errors"): every domain error extends
 * `DomainError` with a stable `code`; each transport maps the codes once, with an exhaustive
 * `switch`. The codes are what clients read in `error.data.cause.code`.
 */
export const ERROR_CODES = [
  "UNAUTHORIZED",
  "FORBIDDEN",
  "FORBIDDEN_DEVICE",
  "FORBIDDEN_SITE",
  "CONSENT_REQUIRED",
  "INVALID_INPUT",
  "RATE_LIMITED",
  "BLOCKED",
  "NOT_FOUND",
  /** The procedure exists but not for this HTTP method (`GET` on a mutation, `POST` on a query). */
  "METHOD_NOT_ALLOWED",
  "PARTNER_UNAVAILABLE",
  "PARTNER_REJECTED",
  "PARTNER_PROTOCOL_ERROR",
  /**
   * Propgate's own database is unreachable for now (retry after `retryAfterSeconds`), or an
   * admin read ran past its statement timeout (no `retryAfterSeconds`).
   */
  "UNAVAILABLE",
  "INTERNAL",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
  /** When the caller may try again, if known (rate limits, a partner's Retry-After). */
  readonly retryAfterSeconds: number | null = null;

  constructor(message: string) {
    super(message);
    // Logs and stack traces name the subclass (`ForbiddenDeviceError`), not `Error`.
    this.name = new.target.name;
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
