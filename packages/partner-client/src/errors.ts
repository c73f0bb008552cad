import { DomainError } from "@propgate/domain";

/** Errors of a partner call. Each has a stable `code` the transports map once. */

export class PartnerUnavailableError extends DomainError {
  readonly code = "PARTNER_UNAVAILABLE" as const;
  override readonly retryAfterSeconds: number | null;
  constructor(message: string, retryAfterSeconds: number | null = null) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The partner understood the request and refused it (4xx other than 401/429). */
export class PartnerRejectedError extends DomainError {
  readonly code = "PARTNER_REJECTED" as const;
  constructor(
    message: string,
    readonly status: number,
    readonly partnerError: string | null,
  ) {
    super(message);
  }
}

/** The partner answered something that is not the contract: not JSON, or the wrong shape. */
export class PartnerProtocolError extends DomainError {
  readonly code = "PARTNER_PROTOCOL_ERROR" as const;
}
