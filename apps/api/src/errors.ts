import {
  ConsentRequiredError,
  InvalidInputError,
  SessionLimitError,
  StaleNoticeError,
} from "@propgate/consent-audit";
import {
  PartnerProtocolError,
  PartnerRejectedError,
  PartnerUnavailableError,
} from "@propgate/partner-client";
import { TRPCError } from "@trpc/server";

/** A resident may not use this device: unknown, of another site, or of the wrong kind. */
export class ForbiddenDeviceError extends Error {
  readonly code = "FORBIDDEN_DEVICE";
  constructor() {
    super("this device is not available to you");
    this.name = "ForbiddenDeviceError";
  }
}

export type CauseCode =
  | "CONSENT_REQUIRED"
  | "FORBIDDEN_DEVICE"
  | "RATE_LIMITED"
  | "BLOCKED"
  | "PARTNER_UNAVAILABLE"
  | "PARTNER_REJECTED"
  | "PARTNER_PROTOCOL_ERROR"
  | "INVALID_INPUT"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "INTERNAL";

export interface ErrorCause {
  code: CauseCode;
  retryAfterSeconds?: number;
}

/** A resident may act only on the sites in their token. */
export class ForbiddenSiteError extends Error {
  readonly code = "FORBIDDEN";
  constructor() {
    super("this site is not available to you");
    this.name = "ForbiddenSiteError";
  }
}

/** No such video session for this resident (or it belongs to someone else). */
export class SessionNotFoundError extends Error {
  readonly code = "NOT_FOUND";
  constructor() {
    super("no such video session");
    this.name = "SessionNotFoundError";
  }
}

/** Carries the machine-readable cause to the tRPC error formatter. */
export class CausedTRPCError extends TRPCError {
  constructor(
    code: TRPCError["code"],
    message: string,
    readonly propgate: ErrorCause,
  ) {
    super({ code, message });
  }
}

/** The one mapping from domain errors to tRPC errors. Unknown errors never leak their message. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (error instanceof ConsentRequiredError) {
    return new CausedTRPCError("FORBIDDEN", "consent for this purpose is required", {
      code: "CONSENT_REQUIRED",
    });
  }
  if (error instanceof ForbiddenDeviceError) {
    return new CausedTRPCError("FORBIDDEN", error.message, { code: "FORBIDDEN_DEVICE" });
  }
  if (error instanceof StaleNoticeError || error instanceof InvalidInputError) {
    return new CausedTRPCError("BAD_REQUEST", error.message, { code: "INVALID_INPUT" });
  }
  if (error instanceof SessionLimitError) {
    return new CausedTRPCError("TOO_MANY_REQUESTS", error.message, { code: "RATE_LIMITED" });
  }
  if (error instanceof ForbiddenSiteError) {
    return new CausedTRPCError("FORBIDDEN", error.message, { code: "FORBIDDEN" });
  }
  if (error instanceof SessionNotFoundError) {
    return new CausedTRPCError("NOT_FOUND", error.message, { code: "NOT_FOUND" });
  }
  if (error instanceof PartnerUnavailableError) {
    return new CausedTRPCError(
      "SERVICE_UNAVAILABLE",
      "the partner service is unavailable, try again later",
      {
        code: "PARTNER_UNAVAILABLE",
        ...(error.retryAfterSeconds !== null ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      },
    );
  }
  if (error instanceof PartnerRejectedError) {
    return new CausedTRPCError("BAD_GATEWAY", "the partner service refused the request", {
      code: "PARTNER_REJECTED",
    });
  }
  if (error instanceof PartnerProtocolError) {
    return new CausedTRPCError("BAD_GATEWAY", "the partner service sent an invalid answer", {
      code: "PARTNER_PROTOCOL_ERROR",
    });
  }
  return new CausedTRPCError("INTERNAL_SERVER_ERROR", "internal error", { code: "INTERNAL" });
}
