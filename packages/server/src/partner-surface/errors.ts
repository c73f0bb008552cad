/**
 * An error answered in the surface's one shape `{ error: { code, message, requestId } }`.
 * The message is ours, never an echo of the request.
 */
export class PartnerSurfaceError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 415,
    readonly code:
      | "INVALID_INPUT"
      | "UNAUTHORIZED"
      | "FORBIDDEN"
      | "INSUFFICIENT_SCOPE"
      | "NOT_FOUND"
      | "BLOCKED",
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "PartnerSurfaceError";
  }
}

/** RFC 6749 §5.2 error of the token endpoint: `{ error, error_description }`. */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401,
    readonly error:
      | "invalid_request"
      | "invalid_client"
      | "invalid_grant"
      | "invalid_scope"
      | "unsupported_grant_type",
    readonly description: string,
  ) {
    super(description);
    this.name = "OAuthError";
  }
}
