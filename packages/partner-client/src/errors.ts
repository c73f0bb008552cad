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

/**
 * Why a partner's answer was refused: the `reason` label of
 * `propgate_partner_protocol_errors_total` and of the warning line. Never the body or the SDP.
 */
const PROTOCOL_REASONS = [
  "oversize",
  "not_json",
  "schema",
  "status",
  "content_type",
  "sdp",
  "location",
  "expiry",
  "ice_servers",
] as const;
export type ProtocolReason = (typeof PROTOCOL_REASONS)[number];

/** The partner answered something that is not the contract: not JSON, or the wrong shape. */
export class PartnerProtocolError extends DomainError {
  readonly code = "PARTNER_PROTOCOL_ERROR" as const;
  constructor(
    message: string,
    readonly reason: ProtocolReason = "schema",
    /** The contract's field names at fault (never their values), for the warning line. */
    readonly fields: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * Thrown by an answer decoder: the answer breaks the contract for `reason`. The message names
 * what is wrong in our words (a header, a field), never what the partner sent.
 */
export class ContractViolation extends Error {
  constructor(
    readonly reason: ProtocolReason,
    message: string,
    readonly fields: readonly string[] = [],
  ) {
    super(message);
  }
}
