import { isDatabaseUnavailable, isStatementTimeout } from "@propgate/consent-audit";
import { type AnomalyKind, DomainError, type ErrorCode } from "@propgate/domain";
import { PartnerUnavailableError } from "@propgate/partner-client";
import { TRPCError } from "@trpc/server";
import { type TRPC_ERROR_CODE_KEY, TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";

/** No valid bearer token: missing, malformed, expired or not for this service. */
export class UnauthorizedError extends DomainError {
  readonly code = "UNAUTHORIZED" as const;
}

/** The caller lacks the role the procedure needs. */
export class ForbiddenError extends DomainError {
  readonly code = "FORBIDDEN" as const;
}

/** A resident may not use this device: unknown, of another site, or of the wrong kind. */
export class ForbiddenDeviceError extends DomainError {
  readonly code = "FORBIDDEN_DEVICE" as const;
  constructor() {
    super("this device is not available to you");
  }
}

/**
 * A resident may act only on the sites in their token. The audit row says FORBIDDEN_SITE; the
 * client has always been told FORBIDDEN, and keeps being told so.
 */
export class ForbiddenSiteError extends DomainError {
  readonly code = "FORBIDDEN" as const;
  constructor() {
    super("this site is not available to you");
  }
}

/** No such video session for this resident (or it belongs to someone else). */
export class SessionNotFoundError extends DomainError {
  readonly code = "NOT_FOUND" as const;
  constructor() {
    super("no such video session");
  }
}

/** No such active guest key of this resident (or it ended already). */
export class KeyNotFoundError extends DomainError {
  readonly code = "NOT_FOUND" as const;
  constructor() {
    super("no such active guest key");
  }
}

/** Over one of the rate limits of invariant 7. */
export class RateLimitedError extends DomainError {
  readonly code = "RATE_LIMITED" as const;
  override readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * This instance cannot serve the request now (it is stopping, or full): another instance, or
 * this one a moment later, can. A client's event stream reconnects after it.
 */
export class ServiceUnavailableError extends DomainError {
  readonly code = "UNAVAILABLE" as const;
  override readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
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

/** `error.data.cause`: the stable reason a client acts on. */
export interface ErrorCause {
  code: ErrorCode;
  retryAfterSeconds?: number;
}

/**
 * The tRPC code (and so the HTTP status) of each cause, and its public message: null where the
 * error's own message is public. The resident api's OpenAPI document is built from it too.
 */
export function describeCause(code: ErrorCode): {
  trpc: TRPC_ERROR_CODE_KEY;
  message: string | null;
} {
  switch (code) {
    case "UNAUTHORIZED":
      return { trpc: "UNAUTHORIZED", message: null };
    case "FORBIDDEN":
    case "FORBIDDEN_DEVICE":
    case "FORBIDDEN_SITE":
    case "BLOCKED":
      return { trpc: "FORBIDDEN", message: null };
    case "CONSENT_REQUIRED":
      return { trpc: "FORBIDDEN", message: "consent for this purpose is required" };
    case "INVALID_INPUT":
      return { trpc: "BAD_REQUEST", message: null };
    case "RATE_LIMITED":
      return { trpc: "TOO_MANY_REQUESTS", message: null };
    case "NOT_FOUND":
      return { trpc: "NOT_FOUND", message: null };
    case "METHOD_NOT_ALLOWED":
      return { trpc: "METHOD_NOT_SUPPORTED", message: null };
    case "PARTNER_UNAVAILABLE":
      return {
        trpc: "SERVICE_UNAVAILABLE",
        message: "the partner service is unavailable, try again later",
      };
    case "PARTNER_REJECTED":
      return { trpc: "BAD_GATEWAY", message: "the partner service refused the request" };
    case "PARTNER_PROTOCOL_ERROR":
      return { trpc: "BAD_GATEWAY", message: "the partner service sent an invalid answer" };
    case "UNAVAILABLE":
      return {
        trpc: "SERVICE_UNAVAILABLE",
        message: "the service is unavailable, try again later",
      };
    case "INTERNAL":
      return { trpc: "INTERNAL_SERVER_ERROR", message: "internal error" };
    default: {
      const unhandled: never = code;
      throw new Error(`unmapped error code ${String(unhandled)}`);
    }
  }
}

/**
 * A tRPC error that carries its cause to the error formatter, and (an internal error) the
 * original error to the `procedure failed` log line — never to the client.
 */
export class CausedTRPCError extends TRPCError {
  constructor(
    code: TRPC_ERROR_CODE_KEY,
    message: string,
    readonly propgate: ErrorCause,
    original?: unknown,
  ) {
    super({ code, message, cause: original });
  }
}

/** The cause a tRPC error carries to the client (null for tRPC's own errors). */
export function causeOfTRPCError(error: TRPCError): ErrorCause | null {
  return error instanceof CausedTRPCError ? error.propgate : null;
}

function causeOf(error: DomainError): ErrorCause {
  return error.retryAfterSeconds === null
    ? { code: error.code }
    : { code: error.code, retryAfterSeconds: error.retryAfterSeconds };
}

/** How soon a resident may try again when the database is out of reach (it reconnects in ≤ 1 s). */
const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * The cause of an error that is no domain error: the database out of reach (retry after a
 * moment), a statement past its timeout (an admin read, invariant 8: no time to promise), or
 * an internal error.
 */
function causeOfFailure(error: unknown): ErrorCause {
  if (isDatabaseUnavailable(error))
    return { code: "UNAVAILABLE", retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS };
  if (isStatementTimeout(error)) return { code: "UNAVAILABLE" };
  return { code: "INTERNAL" };
}

/**
 * The one mapping from domain errors to tRPC errors. Unknown errors never leak their message;
 * the database out of reach or too slow is UNAVAILABLE (503), not INTERNAL — and, like
 * INTERNAL, keeps the original error for the log line.
 */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (!(error instanceof DomainError)) {
    const cause = causeOfFailure(error);
    const { trpc, message } = describeCause(cause.code);
    return new CausedTRPCError(trpc, message ?? "internal error", cause, error);
  }
  const { trpc, message } = describeCause(error.code);
  return new CausedTRPCError(trpc, message ?? error.message, causeOf(error));
}

/**
 * tRPC's error envelope for a refusal made before tRPC runs (rate limit, body size), built from
 * tRPC's own code constants so a tRPC client reads it like any other error.
 */
export function trpcErrorEnvelope(input: {
  code: TRPC_ERROR_CODE_KEY;
  httpStatus: number;
  message: string;
  cause: ErrorCause;
  requestId: string;
}) {
  return {
    error: {
      message: input.message,
      code: TRPC_ERROR_CODES_BY_KEY[input.code],
      data: {
        code: input.code,
        httpStatus: input.httpStatus,
        cause: input.cause,
        requestId: input.requestId,
      },
    },
  };
}

/** Blocked for a while after an anomaly (`admin.blocks.lift` ends it early). */
export class BlockedError extends DomainError {
  readonly code = "BLOCKED" as const;
  override readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, kind: AnomalyKind) {
    // Why and until when, so the resident (or their app's support screen) can tell an operator.
    super(`blocked for ${retryAfterSeconds} s after unusual activity (${kind}); try again later`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
