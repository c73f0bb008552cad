import type { AppRouter } from "@propgate/api";
import type { ErrorCode } from "@propgate/domain";
import { TRPCClientError } from "@trpc/client";
import { type HeaderSource, parseRetryAfter } from "./headers.ts";

/**
 * What went wrong, as the api's `error.data.cause.code` says (`ERROR_CODES` of
 * `@propgate/domain`), or `NETWORK_ERROR` when no answer of the api's came back: no connection,
 * a timeout, an abort, or an answer that is not the api's JSON (a proxy's error page).
 */
export type PropgateErrorCode = ErrorCode | "NETWORK_ERROR";

/** Every code the api sends; a `Record` so the compiler keeps it equal to `ErrorCode`. */
const API_CODES: Record<ErrorCode, true> = {
  UNAUTHORIZED: true,
  FORBIDDEN: true,
  FORBIDDEN_DEVICE: true,
  FORBIDDEN_SITE: true,
  CONSENT_REQUIRED: true,
  INVALID_INPUT: true,
  RATE_LIMITED: true,
  BLOCKED: true,
  NOT_FOUND: true,
  PARTNER_UNAVAILABLE: true,
  PARTNER_REJECTED: true,
  PARTNER_PROTOCOL_ERROR: true,
  INTERNAL: true,
};

function isApiCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(API_CODES, code);
}

/** The `meta` tRPC's httpLink puts on an error: the answer, when one came. */
interface ErrorMeta {
  response?: { status: number; headers: HeaderSource };
}

export function responseOf(error: TRPCClientError<AppRouter>): ErrorMeta["response"] | null {
  const meta = error.meta as ErrorMeta | undefined;
  return meta?.response ?? null;
}

/**
 * A failed call. A `TRPCClientError` too (tRPC passes it through unchanged), with the api's
 * stable reason in `code` and what a resident's app needs to show it.
 */
export class PropgateError extends TRPCClientError<AppRouter> {
  readonly code: PropgateErrorCode;
  /** When to try again (the api's `cause.retryAfterSeconds`, else `Retry-After`), if known. */
  readonly retryAfterSeconds: number | null;
  /** The api's request id (`error.data.requestId`, the `x-request-id` header): quote it to support. */
  readonly requestId: string | null;
  /** The HTTP status of the answer; null when none came. */
  readonly httpStatus: number | null;
  /** The procedure called (`intercom.openDoor`). */
  readonly procedure: string;

  constructor(error: TRPCClientError<AppRouter>, procedure: string) {
    super(error.message, {
      result: error.shape ? { error: error.shape } : undefined,
      cause: error,
      meta: error.meta,
    });
    // TRPCClientError's constructor resets the prototype to its own; put ours back.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = "PropgateError";
    const response = responseOf(error);
    const data = error.data;
    const cause = data?.cause;
    this.code = isApiCode(cause?.code) ? cause.code : data ? "INTERNAL" : "NETWORK_ERROR";
    this.retryAfterSeconds =
      cause?.retryAfterSeconds ?? (response ? parseRetryAfter(response.headers) : null);
    this.requestId = data?.requestId ?? response?.headers.get("x-request-id") ?? null;
    this.httpStatus = data?.httpStatus ?? response?.status ?? null;
    this.procedure = procedure;
  }
}
