/** Errors of a partner call. Each has a stable `code` the transports map once. */

export class PartnerUnavailableError extends Error {
  readonly code = "PARTNER_UNAVAILABLE";
  constructor(
    message: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = "PartnerUnavailableError";
  }
}

/** The partner understood the request and refused it (4xx other than 401/429). */
export class PartnerRejectedError extends Error {
  readonly code = "PARTNER_REJECTED";
  constructor(
    message: string,
    readonly status: number,
    readonly partnerError: string | null,
  ) {
    super(message);
    this.name = "PartnerRejectedError";
  }
}

/** The partner answered something that is not the contract: not JSON, or the wrong shape. */
export class PartnerProtocolError extends Error {
  readonly code = "PARTNER_PROTOCOL_ERROR";
  constructor(message: string) {
    super(message);
    this.name = "PartnerProtocolError";
  }
}
