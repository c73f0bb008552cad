import { DomainError } from "@propgate/domain";

/** Domain errors of this package; each has a stable `code` that transports map once. */

export class ConsentRequiredError extends DomainError {
  readonly code = "CONSENT_REQUIRED" as const;
  readonly purpose: string;
  /** Id of the `access.denied` audit row written for this refusal. */
  readonly eventId: string;

  constructor(purpose: string, eventId: string) {
    super(`consent for purpose "${purpose}" is required`);
    this.purpose = purpose;
    this.eventId = eventId;
  }
}

export class StaleNoticeError extends DomainError {
  readonly code = "INVALID_INPUT" as const;
  readonly purpose: string;
  readonly currentNoticeVersion: number;

  constructor(purpose: string, givenVersion: number, currentNoticeVersion: number) {
    super(
      `notice version ${givenVersion} for purpose "${purpose}" is not current (current is ${currentNoticeVersion})`,
    );
    this.purpose = purpose;
    this.currentNoticeVersion = currentNoticeVersion;
  }
}

export class InvalidInputError extends DomainError {
  readonly code = "INVALID_INPUT" as const;
  /** Human-readable problems, e.g. `records.0.kind: Invalid option`. */
  readonly issues: readonly string[];

  constructor(message: string, issues: readonly string[] = []) {
    super(issues.length > 0 ? `${message}: ${issues.join("; ")}` : message);
    this.issues = issues;
  }
}

export class ErasureNotFoundError extends DomainError {
  readonly code = "NOT_FOUND" as const;
  readonly erasureId: string;

  constructor(erasureId: string) {
    super(`erasure request ${erasureId} does not exist`);
    this.erasureId = erasureId;
  }
}

/** No block in force with that id (unknown, lifted already, or over). */
export class BlockNotFoundError extends DomainError {
  readonly code = "NOT_FOUND" as const;
  constructor() {
    super("no such block in force");
  }
}
